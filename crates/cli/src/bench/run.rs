//! A bench run: the emulators, and the service either in this process (SQLite, one process: the default) or as
//! `assetsync serve` child processes on one database ([`Cluster`]), behind one set of methods.

use super::cluster::{BenchDatabase, Cluster, DatabaseArgs};
use super::report::Percentiles;
use crate::demo::{Emulators, SandboxRun};
use crate::galleries::{Expected, served_galleries};
use crate::launch::Service;
use domain::Sku;
use sandbox::aem::AemEmulator;
use sandbox::commerce::CommerceEmulator;
use std::path::Path;

pub(super) struct BenchRun {
    pub(super) emulator: AemEmulator,
    /// The emulated Adobe Commerce store, when galleries go there.
    pub(super) store_emulator: Option<CommerceEmulator>,
    services: Services,
}

enum Services {
    InProcess(Service),
    Children(Cluster),
}

impl BenchRun {
    /// Starts the service on `database`: in this process, or as `--processes` children when the options ask
    /// for them (PostgreSQL, or more than one process).
    pub(super) async fn start(
        mut emulators: Emulators,
        database: &BenchDatabase,
        args: &DatabaseArgs,
        dir: &Path,
    ) -> anyhow::Result<Self> {
        database.configure(&mut emulators.config);
        if args.needs_children() {
            let cluster =
                Cluster::start(&emulators.config, dir, args.processes(), database).await?;
            return Ok(Self {
                emulator: emulators.emulator,
                store_emulator: emulators.store_emulator,
                services: Services::Children(cluster),
            });
        }
        let SandboxRun {
            emulator,
            store_emulator,
            service,
            ..
        } = SandboxRun::serve(emulators).await?;
        Ok(Self {
            emulator,
            store_emulator,
            services: Services::InProcess(service),
        })
    }

    /// The service in this process (`bench read` runs only so).
    pub(super) fn in_process(&self) -> anyhow::Result<&Service> {
        match &self.services {
            Services::InProcess(service) => Ok(service),
            Services::Children(_) => anyhow::bail!("the service runs in child processes"),
        }
    }

    /// How many service processes run.
    pub(super) fn processes(&self) -> usize {
        match &self.services {
            Services::InProcess(_) => 1,
            Services::Children(cluster) => cluster.processes().len(),
        }
    }

    /// Adds the products to the emulated store (when there is one) and to the service's catalog.
    pub(super) async fn add_products(&self, products: &[Sku]) -> anyhow::Result<()> {
        if let Some(store) = &self.store_emulator {
            for sku in products {
                store.create_product(sku.as_str());
            }
        }
        match &self.services {
            Services::InProcess(service) => {
                service.engine.add_products(products).await?;
            }
            Services::Children(cluster) => cluster.first()?.add_products(products).await?,
        }
        Ok(())
    }

    /// Requests a full sync (from the first process).
    pub(super) async fn request_full_sync(&self, reason: &str) -> anyhow::Result<()> {
        match &self.services {
            Services::InProcess(service) => {
                service.engine.request_full_sync(reason).await?;
            }
            Services::Children(cluster) => {
                cluster.first()?.request_full_sync().await?;
            }
        }
        Ok(())
    }

    /// The queued asset and SKU work.
    pub(super) async fn backlog(&self) -> anyhow::Result<(u64, u64)> {
        match &self.services {
            Services::InProcess(service) => {
                let backlog = service.engine.backlog().await?;
                let depth = |n: i64| u64::try_from(n).unwrap_or(0);
                Ok((depth(backlog.asset_work), depth(backlog.sku_work)))
            }
            Services::Children(cluster) => cluster.first()?.backlog().await,
        }
    }

    /// The galleries each process serves, with the process's name (its URL).
    pub(super) async fn served(&self, products: &[Sku]) -> Vec<(String, Expected)> {
        match &self.services {
            Services::InProcess(service) => {
                vec![(service.url.clone(), served_galleries(service, products))]
            }
            Services::Children(cluster) => cluster.served_galleries(products).await,
        }
    }

    /// Forgets the latencies measured so far (in this process; children keep theirs since their start).
    pub(super) fn clear_latencies(&self) {
        if let Services::InProcess(service) = &self.services {
            service.engine.sla().clear();
        }
    }

    /// Gallery writes and their event → applied latencies: since [`Self::clear_latencies`] in this process;
    /// for children, since each started (the initial sync included), merged (see
    /// [`Cluster::applied_since_start`]).
    pub(super) async fn applied(&self) -> anyhow::Result<(u64, Percentiles)> {
        match &self.services {
            Services::InProcess(service) => {
                let sla = service.engine.sla().report(service.engine.now_ms());
                let applied = &sla.since_start.event_to_applied;
                Ok((applied.count, Percentiles::of_summary(applied)))
            }
            Services::Children(cluster) => cluster.applied_since_start().await,
        }
    }

    /// Where webhooks go: every process's `/events/aem`, to be used in turn.
    pub(super) fn webhook_urls(&self) -> Vec<String> {
        match &self.services {
            Services::InProcess(service) => vec![format!("{}/events/aem", service.url)],
            Services::Children(cluster) => cluster.webhook_urls(),
        }
    }

    /// Stops the service (children are killed).
    pub(super) async fn stop(self) {
        match self.services {
            Services::InProcess(service) => service.stop().await,
            Services::Children(cluster) => drop(cluster),
        }
    }
}
