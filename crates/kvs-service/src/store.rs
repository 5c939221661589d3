//! Where channels are kept across restarts. The channel table stays pure and hands out a
//! [`Snapshot`] with each change; the server gives it to a [`Persister`] outside the table's
//! lock and answers only once it is stored. redb in the state directory is the one
//! [`ChannelStore`] today; the interface is the seam for other storage.

use std::path::Path;
use std::sync::Mutex;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::ServiceError;
use crate::clock::lock;
use kvs_service_core::{ChannelRecord, Snapshot};

const CHANNELS: TableDefinition<&str, &[u8]> = TableDefinition::new("channels");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const VERSION_COUNTER: &str = "version_counter";

/// Storage for the channel table.
pub(crate) trait ChannelStore: Send + Sync {
    /// Every stored channel, and the version counter.
    fn load(&self) -> Result<(Vec<ChannelRecord>, u64), ServiceError>;
    /// Replaces what is stored with `snapshot`, atomically.
    fn save(&self, snapshot: &Snapshot) -> Result<(), ServiceError>;
}

/// Saves snapshots in order: one that is older than the last one saved (two changes whose
/// saves raced) is skipped, as the newer one already holds its change.
pub(crate) struct Persister {
    store: Box<dyn ChannelStore>,
    saved: Mutex<u64>,
}

impl Persister {
    /// Saves through `store`.
    pub(crate) fn new(store: Box<dyn ChannelStore>) -> Self {
        Self {
            store,
            saved: Mutex::new(0),
        }
    }

    /// What `store` holds.
    pub(crate) fn load(&self) -> Result<(Vec<ChannelRecord>, u64), ServiceError> {
        self.store.load()
    }

    /// Stores `snapshot` unless a newer one is stored already.
    pub(crate) fn persist(&self, snapshot: &Snapshot) -> Result<(), ServiceError> {
        let mut saved = lock(&self.saved);
        if snapshot.seq <= *saved {
            return Ok(());
        }
        self.store.save(snapshot)?;
        *saved = snapshot.seq;
        Ok(())
    }
}

/// The database file `channels.redb` in the state directory.
pub(crate) struct Store {
    db: Database,
}

fn err(what: &str) -> impl Fn(redb::Error) -> ServiceError + '_ {
    move |e| ServiceError::StateDir(format!("{what}: {e}"))
}

impl Store {
    /// The database in `dir`, created if it is not there.
    pub(crate) fn open(dir: &Path) -> Result<Self, ServiceError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ServiceError::StateDir(format!("creating {}: {e}", dir.display())))?;
        let path = dir.join("channels.redb");
        let db =
            Database::create(&path).map_err(|e| err("opening the channel database")(e.into()))?;
        Ok(Self { db })
    }
}

impl ChannelStore for Store {
    fn load(&self) -> Result<(Vec<ChannelRecord>, u64), ServiceError> {
        let read = err("reading the channel database");
        let txn = self.db.begin_read().map_err(|e| read(e.into()))?;
        let mut records = Vec::new();
        let counter = match txn.open_table(META) {
            Ok(meta) => meta
                .get(VERSION_COUNTER)
                .map_err(|e| read(e.into()))?
                .map_or(0, |v| v.value()),
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok((records, 0)),
            Err(e) => return Err(read(e.into())),
        };
        let table = txn.open_table(CHANNELS).map_err(|e| read(e.into()))?;
        for row in table.iter().map_err(|e| read(e.into()))? {
            let (name, value) = row.map_err(|e| read(e.into()))?;
            let record = serde_json::from_slice(value.value()).map_err(|e| {
                ServiceError::StateDir(format!(
                    "channel '{}' in the database is unreadable: {e}",
                    name.value()
                ))
            })?;
            records.push(record);
        }
        Ok((records, counter))
    }

    fn save(&self, snapshot: &Snapshot) -> Result<(), ServiceError> {
        let write = err("writing the channel database");
        let txn = self.db.begin_write().map_err(|e| write(e.into()))?;
        {
            txn.delete_table(CHANNELS).map_err(|e| write(e.into()))?;
            let mut table = txn.open_table(CHANNELS).map_err(|e| write(e.into()))?;
            for record in &snapshot.records {
                let bytes = serde_json::to_vec(record).expect("records serialise");
                table
                    .insert(record.info.channel_name.as_str(), bytes.as_slice())
                    .map_err(|e| write(e.into()))?;
            }
            let mut meta = txn.open_table(META).map_err(|e| write(e.into()))?;
            meta.insert(VERSION_COUNTER, snapshot.version_counter)
                .map_err(|e| write(e.into()))?;
        }
        txn.commit().map_err(|e| write(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Remembers the sequence numbers it was asked to save.
    #[derive(Default, Clone)]
    struct Recorder(Arc<Mutex<Vec<u64>>>);

    impl ChannelStore for Recorder {
        fn load(&self) -> Result<(Vec<ChannelRecord>, u64), ServiceError> {
            Ok((Vec::new(), 0))
        }
        fn save(&self, snapshot: &Snapshot) -> Result<(), ServiceError> {
            lock(&self.0).push(snapshot.seq);
            Ok(())
        }
    }

    fn snapshot(seq: u64) -> Snapshot {
        Snapshot {
            seq,
            records: Vec::new(),
            version_counter: seq,
        }
    }

    #[test]
    fn a_snapshot_older_than_the_stored_one_is_skipped() {
        let recorder = Recorder::default();
        let persister = Persister::new(Box::new(recorder.clone()));
        for seq in [1, 3, 2, 3, 4] {
            persister.persist(&snapshot(seq)).unwrap();
        }
        assert_eq!(*lock(&recorder.0), [1, 3, 4]);
    }
}
