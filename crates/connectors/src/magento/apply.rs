//! Applying one product's operations on Magento, one at a time in the order `reconcile` gave: an operation
//! the store refuses (400) or whose binary the DAM no longer has (404) fails alone and the others go on; a
//! failure of the store itself stops the rest. Either way the result is exactly what the store holds now
//! ([`PartialApply`]), so that the next run starts from the truth: an operation applied and not recorded
//! would leave the stored gallery out of step with the store (a role it moved, a position it wrote, an entry
//! it created), and a later reconcile would not see the difference.

use super::{Failure, MagentoSink, RemoteEntry, is_missing_entry, rejected};
use crate::sink::{ApplyContext, PartialApply, SinkError, SinkOutcome};
use domain::gallery::{HandmadeRecord, RefusedEntry};
use domain::media_files::is_assetsync_file;
use domain::{AppliedEntry, AssetId, Operation, Sku};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

impl MagentoSink {
    /// Applies `ops` from `applied`; `Err` only when nothing could start (the media list failed) or the
    /// product is gone.
    pub(super) async fn apply_ops(
        &self,
        sku: &Sku,
        context: &ApplyContext<'_>,
        applied: &[AppliedEntry],
        ops: &[Operation],
    ) -> Result<SinkOutcome, Failure> {
        let remote = self.list(sku).await?;
        let mut result: BTreeMap<AssetId, AppliedEntry> = applied
            .iter()
            .map(|a| (a.entry.asset_id.clone(), a.clone()))
            .collect();
        let mut refused = Vec::new();
        let mut reread = Vec::new();
        let mut stopped = None;
        for op in ops {
            match self.apply_one(sku, op, &remote).await {
                Ok(Some(done)) => {
                    result.insert(done.entry.asset_id.clone(), done);
                }
                Ok(None) => {
                    result.remove(op.asset_id());
                }
                Err(Failure::ProductGone) => return Err(Failure::ProductGone),
                Err(Failure::BinaryMissing(message)) => {
                    tracing::info!(%sku, asset = %op.asset_id(), %message, "binary gone; the asset is read again");
                    reread.push(op.asset_id().clone());
                }
                Err(Failure::Sink(
                    SinkError::Rejected(message) | SinkError::BinaryRefused(message),
                )) if target(op).is_some() => {
                    tracing::warn!(%sku, asset = %op.asset_id(), %message, "the store refused one entry");
                    refused.extend(target(op).map(|entry| RefusedEntry {
                        entry: entry.clone(),
                        message,
                    }));
                }
                Err(Failure::Sink(error)) => {
                    stopped = Some(error);
                    break;
                }
            }
        }
        let mut entries: Vec<AppliedEntry> = result.into_values().collect();
        entries.sort_by(|a, b| {
            (a.entry.position, &a.entry.asset_id).cmp(&(b.entry.position, &b.entry.asset_id))
        });
        if stopped.is_none() {
            let ours: BTreeSet<String> = applied
                .iter()
                .chain(entries.iter())
                .filter_map(|a| a.remote_id.clone())
                .collect();
            // An entry under one of assetsync's file names that no stored entry owns was written by an attempt
            // that never committed (its process died between the write and the commit): it is not hand-made,
            // and it goes.
            let (orphans, handmade): (Vec<&RemoteEntry>, Vec<&RemoteEntry>) = remote
                .iter()
                .filter(|r| !ours.contains(&r.id.to_string()))
                .partition(|r| r.file.as_deref().is_some_and(is_assetsync_file));
            for orphan in orphans {
                tracing::warn!(%sku, entry_id = orphan.id, "deleting an entry an interrupted attempt wrote");
                match self.delete(sku, orphan.id).await {
                    Ok(()) => {}
                    Err(Failure::ProductGone) => return Err(Failure::ProductGone),
                    Err(Failure::Sink(error)) => {
                        stopped = Some(error);
                        break;
                    }
                    Err(Failure::BinaryMissing(_)) => {}
                }
            }
            let dam_visible = entries.iter().any(|a| !a.entry.hidden);
            let handmade = if stopped.is_some() {
                Vec::new()
            } else {
                handmade
            };
            let hide = context.dam_owns_gallery && dam_visible;
            match self.place_handmade(sku, context, &handmade, hide).await {
                Ok(()) => {}
                Err(Failure::ProductGone) => return Err(Failure::ProductGone),
                Err(Failure::Sink(error)) => stopped = Some(error),
                Err(Failure::BinaryMissing(message)) => {
                    stopped = Some(SinkError::Unavailable {
                        message,
                        retry_after_ms: None,
                    });
                }
            }
        }
        if refused.is_empty() && reread.is_empty() && stopped.is_none() {
            return Ok(SinkOutcome::Applied(entries));
        }
        Ok(SinkOutcome::Partial(PartialApply {
            entries,
            refused,
            reread,
            stopped,
        }))
    }

    /// One operation: `Some(entry)` now applied, `None` when the entry is gone.
    async fn apply_one(
        &self,
        sku: &Sku,
        op: &Operation,
        remote: &[RemoteEntry],
    ) -> Result<Option<AppliedEntry>, Failure> {
        let remote_id = |entry: &AppliedEntry| {
            entry
                .remote_id
                .as_deref()
                .and_then(|id| id.parse::<u64>().ok())
                .filter(|id| remote.iter().any(|r| r.id == *id))
        };
        let applied = |to: &domain::GalleryEntry, id: String, unknown| {
            Some(AppliedEntry {
                entry: to.clone(),
                remote_id: Some(id),
                unknown_store_views: unknown,
            })
        };

        match op {
            Operation::Delete(from) => {
                if let Some(id) = remote_id(from) {
                    self.delete(sku, id).await?;
                }
                Ok(None)
            }
            Operation::Update { from, to } => {
                let existing = remote_id(from).and_then(|id| remote.iter().find(|r| r.id == id));
                let (id, before) = match existing {
                    Some(found) if self.put(sku, found.id, to, found.file.as_deref()).await? => {
                        (found.id.to_string(), Some(&from.entry))
                    }
                    _ => (self.create(sku, to, remote).await?, None),
                };
                let unknown = self.write_store_views(sku, &id, to, before).await?;
                Ok(applied(to, id, unknown))
            }
            Operation::Replace { from, to } => {
                let id = self.create(sku, to, remote).await?;
                let unknown = self.write_store_views(sku, &id, to, None).await?;
                if let Some(old) = remote_id(from).filter(|old| old.to_string() != id) {
                    self.delete(sku, old).await?;
                }
                Ok(applied(to, id, unknown))
            }
            Operation::Create(to) => {
                let id = self.create(sku, to, remote).await?;
                let unknown = self.write_store_views(sku, &id, to, None).await?;
                Ok(applied(to, id, unknown))
            }
        }
    }

    /// Entries made by hand: hidden (their prior state remembered first) while the DAM owns a gallery with a
    /// visible DAM entry; otherwise restored exactly as they were. Never deleted, reordered or relabelled.
    async fn place_handmade(
        &self,
        sku: &Sku,
        context: &ApplyContext<'_>,
        handmade: &[&RemoteEntry],
        hide: bool,
    ) -> Result<(), Failure> {
        let recorded = context.ledger.recorded(sku).await?;
        if hide {
            for entry in handmade.iter().filter(|e| !e.disabled) {
                if !recorded.iter().any(|r| r.entry_id == entry.id.to_string()) {
                    let record = HandmadeRecord {
                        entry_id: entry.id.to_string(),
                        prior_disabled: entry.disabled,
                        prior_roles: entry.types.clone(),
                    };
                    context.ledger.remember(sku, &record).await?;
                }
                self.put_handmade(sku, entry, true, &entry.types).await?;
            }
            return Ok(());
        }
        for record in &recorded {
            if let Some(entry) = handmade
                .iter()
                .find(|e| e.id.to_string() == record.entry_id)
            {
                self.put_handmade(sku, entry, record.prior_disabled, &record.prior_roles)
                    .await?;
            }
            context.ledger.forget(sku, &record.entry_id).await?;
        }
        Ok(())
    }

    /// PUTs a hand-made entry back whole, changing only `disabled` and its roles.
    async fn put_handmade(
        &self,
        sku: &Sku,
        entry: &RemoteEntry,
        disabled: bool,
        roles: &[String],
    ) -> Result<(), Failure> {
        let mut body = json!({ "entry": {
            "id": entry.id,
            "media_type": entry.media_type.as_deref().unwrap_or("image"),
            "label": entry.label,
            "position": entry.position.unwrap_or(0),
            "disabled": disabled,
            "types": roles,
            "file": entry.file,
        }});
        if let Some(extension) = &entry.extension_attributes {
            body["entry"]["extension_attributes"] = extension.clone();
        }
        let reply = self
            .send(
                Method::PUT,
                &self.media_url(sku, Some(entry.id)),
                Some(&body),
                true,
            )
            .await?;
        match reply.status {
            StatusCode::NOT_FOUND if is_missing_entry(&reply.body) => Ok(()),
            StatusCode::NOT_FOUND => Err(self.not_found("PUT", sku, &reply.body)),
            s if s.is_success() => Ok(()),
            s => Err(rejected(s, &reply.body)),
        }
    }
}

/// The entry an operation writes (none for a deletion).
fn target(op: &Operation) -> Option<&domain::GalleryEntry> {
    match op {
        Operation::Create(to) | Operation::Update { to, .. } | Operation::Replace { to, .. } => {
            Some(to)
        }
        Operation::Delete(_) => None,
    }
}
