//! Channels kept in an embedded database (redb) in the state directory, so a restart loses
//! none. The channel table stays pure; the server saves a snapshot after each change.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::ServiceError;
use crate::channels::ChannelRecord;

const CHANNELS: TableDefinition<&str, &[u8]> = TableDefinition::new("channels");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const VERSION_COUNTER: &str = "version_counter";

/// The database file `channels.redb` in the state directory.
pub(crate) struct Store {
    db: Database,
}

fn err(what: &str) -> impl Fn(redb::Error) -> ServiceError + '_ {
    move |e| ServiceError::StateDir(format!("{what}: {e}"))
}

impl Store {
    pub(crate) fn open(dir: &Path) -> Result<Self, ServiceError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ServiceError::StateDir(format!("creating {}: {e}", dir.display())))?;
        let path = dir.join("channels.redb");
        let db =
            Database::create(&path).map_err(|e| err("opening the channel database")(e.into()))?;
        Ok(Self { db })
    }

    /// Every stored channel, and the version counter.
    pub(crate) fn load(&self) -> Result<(Vec<ChannelRecord>, u64), ServiceError> {
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

    /// Replaces the stored channels with `records` in one transaction.
    pub(crate) fn save(&self, records: &[ChannelRecord], counter: u64) -> Result<(), ServiceError> {
        let write = err("writing the channel database");
        let txn = self.db.begin_write().map_err(|e| write(e.into()))?;
        {
            txn.delete_table(CHANNELS).map_err(|e| write(e.into()))?;
            let mut table = txn.open_table(CHANNELS).map_err(|e| write(e.into()))?;
            for record in records {
                let bytes = serde_json::to_vec(record).expect("records serialise");
                table
                    .insert(record.info.channel_name.as_str(), bytes.as_slice())
                    .map_err(|e| write(e.into()))?;
            }
            let mut meta = txn.open_table(META).map_err(|e| write(e.into()))?;
            meta.insert(VERSION_COUNTER, counter)
                .map_err(|e| write(e.into()))?;
        }
        txn.commit().map_err(|e| write(e.into()))
    }
}
