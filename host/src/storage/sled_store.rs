//! The embedded [`Store`] on sled.
//!
//! Every record is one JSON value under a key that starts with its id. Ids
//! are time-ordered, so a reverse scan lists records newest first. Records
//! that belong to a parent (versions, events, checkpoints) use the key
//! `{parent_id}\0{child}`, so a prefix scan finds one parent's records.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Transactional, Tree};
use time::OffsetDateTime;

use super::flusher::Flusher;
use super::*;
use crate::ids;

/// The sled database and its trees.
pub struct SledStore {
    db: sled::Db,
    flusher: Flusher,
    deployments: Tree,
    deployment_names: Tree,
    deployment_configs: Tree,
    versions: Tree,
    components: Tree,
    runs: Tree,
    active_runs: Tree,
    thread_runs: Tree,
    events: Tree,
    threads: Tree,
    checkpoints: Tree,
    api_keys: Tree,
    api_key_hashes: Tree,
}

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

impl SledStore {
    /// Opens the database in `path`, creating it when it does not exist,
    /// with a page cache of at most `cache_bytes`.
    pub fn open(path: &Path, cache_bytes: u64) -> StoreResult<Self> {
        let db = sled::Config::new().path(path).cache_capacity(cache_bytes).open()?;
        let tree = |name: &str| db.open_tree(name);
        Ok(Self {
            flusher: Flusher::start(db.clone()),
            deployments: tree("deployments")?,
            deployment_names: tree("deployment_names")?,
            deployment_configs: tree("deployment_configs")?,
            versions: tree("versions")?,
            components: tree("components")?,
            runs: tree("runs")?,
            active_runs: tree("active_runs")?,
            thread_runs: tree("thread_runs")?,
            events: tree("events")?,
            threads: tree("threads")?,
            checkpoints: tree("checkpoints")?,
            api_keys: tree("api_keys")?,
            api_key_hashes: tree("api_key_hashes")?,
            db,
        })
    }

    fn get<T: DeserializeOwned>(tree: &Tree, key: impl AsRef<[u8]>) -> StoreResult<Option<T>> {
        match tree.get(key)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    fn put<T: Serialize>(tree: &Tree, key: impl AsRef<[u8]>, value: &T) -> StoreResult<()> {
        tree.insert(key.as_ref(), serde_json::to_vec(value)?)?;
        Ok(())
    }

    fn remove_prefix(tree: &Tree, prefix: &[u8]) -> StoreResult<()> {
        for key in tree.scan_prefix(prefix).keys() {
            tree.remove(key?)?;
        }
        Ok(())
    }
}

fn child_key(parent: &str, child: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(parent.len() + 1 + child.len());
    key.extend_from_slice(parent.as_bytes());
    key.push(0);
    key.extend_from_slice(child);
    key
}

fn parent_prefix(parent: &str) -> Vec<u8> {
    child_key(parent, b"")
}

fn event_key(run_id: &str, seq: u64) -> Vec<u8> {
    child_key(run_id, &seq.to_be_bytes())
}

fn tx_get<T: DeserializeOwned>(tree: &TransactionalTree, key: impl AsRef<[u8]>) -> TxResult<Option<T>> {
    match tree.get(key)? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|error| ConflictableTransactionError::Abort(error.into())),
        None => Ok(None),
    }
}

fn tx_put<T: Serialize>(tree: &TransactionalTree, key: impl AsRef<[u8]>, value: &T) -> TxResult<()> {
    let bytes = serde_json::to_vec(value).map_err(|error| ConflictableTransactionError::Abort(error.into()))?;
    tree.insert(key.as_ref(), bytes)?;
    Ok(())
}

fn abort<T>(error: StoreError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(error))
}

fn tx_error(error: TransactionError<StoreError>) -> StoreError {
    match error {
        TransactionError::Abort(error) => error,
        TransactionError::Storage(error) => error.into(),
    }
}

/// Applies `page` to an iterator of matching records.
fn paginate<T>(matching: impl Iterator<Item = StoreResult<T>>, page: Page) -> StoreResult<Listing<T>> {
    let mut items = Vec::with_capacity(page.limit.min(128));
    let mut has_more = false;
    for item in matching.skip(page.offset) {
        let item = item?;
        if items.len() == page.limit {
            has_more = true;
            break;
        }
        items.push(item);
    }
    Ok(Listing { items, has_more })
}

impl Store for SledStore {
    fn flush(&self) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move { self.flusher.flush().await.map_err(StoreError::Flush) })
    }

    fn flush_stats(&self) -> (u64, u64) {
        self.flusher.stats()
    }

    fn add_version(
        &self,
        name: &str,
        component: &[u8],
        sha256: &str,
        limits: &DeploymentLimits,
        replace_limits: bool,
    ) -> StoreResult<(Deployment, Version)> {
        let new_deployment_id = ids::new_id(ids::DEPLOYMENT);
        let version_id = ids::new_id(ids::VERSION);
        let now = OffsetDateTime::now_utc();

        let trees = (&self.deployments, &self.deployment_names, &self.versions, &self.components);
        trees
            .transaction(|(deployments, names, versions, components)| {
                let existing = match names.get(name)? {
                    Some(id) => tx_get::<Deployment>(deployments, &id)?,
                    None => None,
                };
                let deployment = match existing {
                    Some(mut deployment) => {
                        deployment.latest_version += 1;
                        deployment.updated_at = now;
                        if replace_limits {
                            deployment.limits = *limits;
                        }
                        deployment
                    }
                    None => {
                        names.insert(name, new_deployment_id.as_bytes())?;
                        Deployment {
                            deployment_id: new_deployment_id.clone(),
                            name: name.to_string(),
                            latest_version: 1,
                            limits: *limits,
                            created_at: now,
                            updated_at: now,
                        }
                    }
                };
                let version = Version {
                    version_id: version_id.clone(),
                    deployment_id: deployment.deployment_id.clone(),
                    version_number: deployment.latest_version,
                    size_bytes: component.len() as u64,
                    sha256: sha256.to_string(),
                    created_at: now,
                };

                tx_put(deployments, &deployment.deployment_id, &deployment)?;
                let version_key = child_key(&deployment.deployment_id, &version.version_number.to_be_bytes());
                tx_put(versions, version_key, &version)?;
                components.insert(version_id.as_bytes(), component)?;
                Ok((deployment, version))
            })
            .map_err(tx_error)
    }

    fn deployment_config(&self, deployment_id: &str) -> StoreResult<DeploymentConfig> {
        Ok(Self::get(&self.deployment_configs, deployment_id)?.unwrap_or_default())
    }

    fn set_deployment_config(&self, deployment_id: &str, config: &DeploymentConfig) -> StoreResult<()> {
        Self::put(&self.deployment_configs, deployment_id, config)
    }

    fn update_deployment_limits(&self, deployment_id: &str, limits: &DeploymentLimits) -> StoreResult<Deployment> {
        self.deployments
            .transaction(|deployments| {
                let Some(mut deployment) = tx_get::<Deployment>(deployments, deployment_id)? else {
                    return abort(StoreError::NotFound { kind: "deployment", id: deployment_id.to_string() });
                };
                deployment.limits = *limits;
                deployment.updated_at = OffsetDateTime::now_utc();
                tx_put(deployments, deployment_id, &deployment)?;
                Ok(deployment)
            })
            .map_err(tx_error)
    }

    fn deployment(&self, id_or_name: &str) -> StoreResult<Option<Deployment>> {
        if let Some(deployment) = Self::get(&self.deployments, id_or_name)? {
            return Ok(Some(deployment));
        }
        match self.deployment_names.get(id_or_name)? {
            Some(id) => Self::get(&self.deployments, id),
            None => Ok(None),
        }
    }

    fn deployments(&self) -> StoreResult<Vec<Deployment>> {
        self.deployments
            .iter()
            .values()
            .rev()
            .map(|bytes| Ok(serde_json::from_slice(&bytes?)?))
            .collect()
    }

    fn versions(&self, deployment_id: &str) -> StoreResult<Vec<Version>> {
        self.versions
            .scan_prefix(parent_prefix(deployment_id))
            .values()
            .map(|bytes| Ok(serde_json::from_slice(&bytes?)?))
            .collect()
    }

    fn version(&self, deployment_id: &str, version_number: u32) -> StoreResult<Option<Version>> {
        Self::get(&self.versions, child_key(deployment_id, &version_number.to_be_bytes()))
    }

    fn component(&self, version_id: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.components.get(version_id)?.map(|bytes| bytes.to_vec()))
    }

    fn delete_deployment(&self, deployment_id: &str) -> StoreResult<Vec<String>> {
        for run_id in self.active_run_ids()? {
            if let Some(run) = self.run(&run_id)?
                && run.deployment_id == deployment_id
            {
                return Err(StoreError::DeploymentBusy { deployment_id: deployment_id.to_string(), run_id });
            }
        }

        // Remove the deployment and its name first, in one transaction, so it
        // disappears at once; the records below are unreachable after that.
        let deployment: Deployment = Self::get(&self.deployments, deployment_id)?
            .ok_or_else(|| StoreError::NotFound { kind: "deployment", id: deployment_id.to_string() })?;
        (&self.deployments, &self.deployment_names)
            .transaction(|(deployments, names)| {
                deployments.remove(deployment_id)?;
                names.remove(deployment.name.as_bytes())?;
                Ok(())
            })
            .map_err(tx_error)?;

        // NOTE: a crash during this clean-up leaves unreachable versions or
        // threads behind; they take disk space but no API returns them.
        self.deployment_configs.remove(deployment_id)?;
        let versions = self.versions(deployment_id)?;
        for version in &versions {
            self.components.remove(&version.version_id)?;
        }
        Self::remove_prefix(&self.versions, &parent_prefix(deployment_id))?;
        for thread in self.threads.iter().values() {
            let thread: Thread = serde_json::from_slice(&thread?)?;
            if thread.deployment_id == deployment_id {
                self.threads.remove(&thread.thread_id)?;
                Self::remove_prefix(&self.checkpoints, &parent_prefix(&thread.thread_id))?;
            }
        }
        Ok(versions.into_iter().map(|version| version.version_id).collect())
    }

    fn insert_run(&self, run: &Run) -> StoreResult<()> {
        let Some(thread_id) = &run.thread_id else {
            return (&self.runs, &self.active_runs)
                .transaction(|(runs, active)| {
                    tx_put(runs, &run.id, run)?;
                    active.insert(run.id.as_bytes(), &[])?;
                    Ok(())
                })
                .map_err(tx_error);
        };

        (&self.threads, &self.runs, &self.active_runs, &self.thread_runs)
            .transaction(|(threads, runs, active, thread_runs)| {
                let Some(mut thread) = tx_get::<Thread>(threads, thread_id)? else {
                    return abort(StoreError::NotFound { kind: "thread", id: thread_id.clone() });
                };
                if let Some(active_run_id) = thread.active_run_id.clone() {
                    return abort(StoreError::ThreadBusy { thread_id: thread_id.clone(), active_run_id });
                }
                thread.status = ThreadStatus::Busy;
                thread.active_run_id = Some(run.id.clone());
                thread.updated_at = run.created_at;

                tx_put(threads, thread_id, &thread)?;
                tx_put(runs, &run.id, run)?;
                active.insert(run.id.as_bytes(), &[])?;
                thread_runs.insert(child_key(thread_id, run.id.as_bytes()), &[])?;
                Ok(())
            })
            .map_err(tx_error)
    }

    fn run(&self, run_id: &str) -> StoreResult<Option<Run>> {
        Self::get(&self.runs, run_id)
    }

    fn runs(&self, filter: &RunFilter, page: Page) -> StoreResult<Listing<Run>> {
        let matches = |run: &Run| {
            filter.deployment_id.as_ref().is_none_or(|id| &run.deployment_id == id)
                && filter.status.is_none_or(|status| run.status == status)
        };

        // NOTE: without a thread filter this scans runs newest first until the
        // page is full, so a rare status or deployment costs a long scan.
        if let Some(thread_id) = &filter.thread_id {
            let prefix = parent_prefix(thread_id);
            let runs = self.thread_runs.scan_prefix(&prefix).keys().rev().filter_map(|key| {
                let key = match key {
                    Ok(key) => key,
                    Err(error) => return Some(Err(error.into())),
                };
                let run_id = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                match self.run(&run_id) {
                    Ok(Some(run)) if matches(&run) => Some(Ok(run)),
                    Ok(_) => None,
                    Err(error) => Some(Err(error)),
                }
            });
            return paginate(runs, page);
        }

        let runs = self.runs.iter().values().rev().filter_map(|bytes| {
            let run: StoreResult<Run> = bytes
                .map_err(StoreError::from)
                .and_then(|bytes| Ok(serde_json::from_slice(&bytes)?));
            match run {
                Ok(run) if matches(&run) => Some(Ok(run)),
                Ok(_) => None,
                Err(error) => Some(Err(error)),
            }
        });
        paginate(runs, page)
    }

    fn active_run_ids(&self) -> StoreResult<Vec<String>> {
        self.active_runs
            .iter()
            .keys()
            .map(|key| Ok(String::from_utf8_lossy(&key?).into_owned()))
            .collect()
    }

    fn start_run(&self, run_id: &str, started_at: OffsetDateTime) -> StoreResult<Run> {
        self.runs
            .transaction(|runs| {
                let Some(mut run) = tx_get::<Run>(runs, run_id)? else {
                    return abort(StoreError::NotFound { kind: "run", id: run_id.to_string() });
                };
                run.status = RunStatus::Running;
                run.started_at = Some(started_at);
                run.attempt += 1;
                tx_put(runs, run_id, &run)?;
                Ok(run)
            })
            .map_err(tx_error)
    }

    fn finish_run(&self, run_id: &str, end: &RunEnd, terminal: &Event) -> StoreResult<Run> {
        let checkpoint_id = ids::new_id(ids::CHECKPOINT);
        let now = terminal.timestamp;

        let trees = (&self.runs, &self.active_runs, &self.events, &self.threads, &self.checkpoints);
        trees
            .transaction(|(runs, active, events, threads, checkpoints)| {
                let Some(mut run) = tx_get::<Run>(runs, run_id)? else {
                    return abort(StoreError::NotFound { kind: "run", id: run_id.to_string() });
                };
                run.status = end.status();
                run.completed_at = Some(now);
                match end {
                    RunEnd::Succeeded { output, .. } => run.output = Some(output.clone()),
                    RunEnd::Failed(error) => run.error = Some(error.clone()),
                    RunEnd::Canceled => {}
                }
                tx_put(runs, run_id, &run)?;
                active.remove(run_id.as_bytes())?;
                tx_put(events, event_key(run_id, terminal.seq), terminal)?;

                let Some(thread_id) = &run.thread_id else {
                    return Ok(run);
                };
                // The thread may have been deleted with its deployment.
                let Some(mut thread) = tx_get::<Thread>(threads, thread_id)? else {
                    return Ok(run);
                };
                if thread.active_run_id.as_deref() == Some(run_id) {
                    thread.status = ThreadStatus::Idle;
                    thread.active_run_id = None;
                }
                thread.updated_at = now;
                if let RunEnd::Succeeded { values, .. } = end {
                    if let Some(values) = values {
                        thread.values = values.clone();
                    }
                    let checkpoint = Checkpoint {
                        checkpoint_id: checkpoint_id.clone(),
                        thread_id: thread_id.clone(),
                        run_id: run_id.to_string(),
                        values: thread.values.clone(),
                        created_at: now,
                    };
                    tx_put(checkpoints, child_key(thread_id, checkpoint_id.as_bytes()), &checkpoint)?;
                }
                tx_put(threads, thread_id, &thread)?;
                Ok(run)
            })
            .map_err(tx_error)
    }

    fn append_event(&self, run_id: &str, event: &Event) -> StoreResult<()> {
        Self::put(&self.events, event_key(run_id, event.seq), event)
    }

    fn events(&self, run_id: &str, after: u64, limit: usize) -> StoreResult<Vec<Event>> {
        let start = event_key(run_id, after.saturating_add(1));
        let end = event_key(run_id, u64::MAX);
        self.events
            .range(start..=end)
            .values()
            .take(limit)
            .map(|bytes| Ok(serde_json::from_slice(&bytes?)?))
            .collect()
    }

    fn last_event_seq(&self, run_id: &str) -> StoreResult<u64> {
        let prefix = parent_prefix(run_id);
        match self.events.scan_prefix(&prefix).keys().next_back() {
            Some(key) => {
                let key = key?;
                let seq: [u8; 8] = key[prefix.len()..].try_into().unwrap_or([0; 8]);
                Ok(u64::from_be_bytes(seq))
            }
            None => Ok(0),
        }
    }

    fn insert_thread(&self, thread: &Thread) -> StoreResult<()> {
        Self::put(&self.threads, &thread.thread_id, thread)
    }

    fn thread(&self, thread_id: &str) -> StoreResult<Option<Thread>> {
        Self::get(&self.threads, thread_id)
    }

    fn threads(&self, filter: &ThreadFilter, page: Page) -> StoreResult<Listing<Thread>> {
        let threads = self.threads.iter().values().rev().filter_map(|bytes| {
            let thread: StoreResult<Thread> = bytes
                .map_err(StoreError::from)
                .and_then(|bytes| Ok(serde_json::from_slice(&bytes)?));
            match thread {
                Ok(thread)
                    if filter.deployment_id.as_ref().is_none_or(|id| &thread.deployment_id == id)
                        && filter.status.is_none_or(|status| thread.status == status) =>
                {
                    Some(Ok(thread))
                }
                Ok(_) => None,
                Err(error) => Some(Err(error)),
            }
        });
        paginate(threads, page)
    }

    fn update_thread_metadata(&self, thread_id: &str, metadata: serde_json::Value) -> StoreResult<Thread> {
        self.threads
            .transaction(|threads| {
                let Some(mut thread) = tx_get::<Thread>(threads, thread_id)? else {
                    return abort(StoreError::NotFound { kind: "thread", id: thread_id.to_string() });
                };
                thread.metadata = metadata.clone();
                thread.updated_at = OffsetDateTime::now_utc();
                tx_put(threads, thread_id, &thread)?;
                Ok(thread)
            })
            .map_err(tx_error)
    }

    fn delete_thread(&self, thread_id: &str) -> StoreResult<()> {
        self.threads
            .transaction(|threads| {
                let Some(thread) = tx_get::<Thread>(threads, thread_id)? else {
                    return abort(StoreError::NotFound { kind: "thread", id: thread_id.to_string() });
                };
                if let Some(active_run_id) = thread.active_run_id {
                    return abort(StoreError::ThreadBusy { thread_id: thread_id.to_string(), active_run_id });
                }
                threads.remove(thread_id)?;
                Ok(())
            })
            .map_err(tx_error)?;
        Self::remove_prefix(&self.checkpoints, &parent_prefix(thread_id))
    }

    fn checkpoints(&self, thread_id: &str, page: Page) -> StoreResult<Listing<Checkpoint>> {
        let checkpoints = self
            .checkpoints
            .scan_prefix(parent_prefix(thread_id))
            .values()
            .rev()
            .map(|bytes| Ok(serde_json::from_slice(&bytes?)?));
        paginate(checkpoints, page)
    }

    fn checkpoint(&self, thread_id: &str, checkpoint_id: &str) -> StoreResult<Option<Checkpoint>> {
        Self::get(&self.checkpoints, child_key(thread_id, checkpoint_id.as_bytes()))
    }

    fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        (&self.api_keys, &self.api_key_hashes)
            .transaction(|(keys, hashes)| {
                tx_put(keys, &key.key_id, key)?;
                hashes.insert(key.hash.as_bytes(), key.key_id.as_bytes())?;
                Ok(())
            })
            .map_err(tx_error)
    }

    fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        self.api_keys
            .iter()
            .values()
            .map(|bytes| Ok(serde_json::from_slice(&bytes?)?))
            .collect()
    }

    fn api_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKey>> {
        match self.api_key_hashes.get(hash)? {
            Some(key_id) => Self::get(&self.api_keys, key_id),
            None => Ok(None),
        }
    }

    fn revoke_api_key(&self, key_id: &str) -> StoreResult<bool> {
        (&self.api_keys, &self.api_key_hashes)
            .transaction(|(keys, hashes)| {
                let Some(key) = tx_get::<ApiKey>(keys, key_id)? else {
                    return Ok(false);
                };
                keys.remove(key_id)?;
                hashes.remove(key.hash.as_bytes())?;
                Ok(true)
            })
            .map_err(tx_error)
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        if let Err(error) = self.db.flush() {
            tracing::error!(%error, "flushing the store on shutdown failed");
        }
    }
}
