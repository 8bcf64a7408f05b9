//! Node certificates renew themselves before they expire, at a random 50-80 % of their
//! lifetime as swarmkit does (so a swarm's nodes do not all renew at once). The new certificate
//! is written to disk, the cluster port serves it to new connections at once, and the agent
//! reconnects with it (adopting the tasks it runs). The lifetime is the cluster's
//! `--cert-expiry` at issue time.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use shoal_manager::TlsMaterial;
use tracing::{info, warn};

use super::runtime::NodeRuntime;
use super::state_file::LocalRole;

/// How often the schedule is looked at again (a role change or a join replaces the certificate).
const RECHECK: Duration = Duration::from_secs(30);

impl NodeRuntime {
    /// Renews this node's certificate when due, until the daemon stops.
    pub async fn renew_certificates(self: Arc<Self>) {
        // The draw for the certificate it was made for, so each certificate gets one.
        let mut plan: Option<(String, SystemTime)> = None;
        loop {
            let due = self.renewal_due(&mut plan);
            let wait = match due {
                Some(at) => at
                    .duration_since(SystemTime::now())
                    .unwrap_or_default()
                    .min(RECHECK),
                None => RECHECK,
            };
            tokio::time::sleep(wait).await;
            if due.is_some_and(|at| SystemTime::now() >= at) {
                match self.renew_now().await {
                    Ok(()) => plan = None,
                    Err(e) => {
                        warn!(error = %e, "certificate renewal failed; will retry");
                        tokio::time::sleep(RECHECK).await;
                    }
                }
            }
        }
    }

    /// When the current certificate is to be renewed, if the node is in a swarm.
    fn renewal_due(&self, plan: &mut Option<(String, SystemTime)>) -> Option<SystemTime> {
        let (_, tls) = self.files.load().ok()??;
        if let Some((cert, at)) = plan.as_ref()
            && *cert == tls.cert_pem
        {
            return Some(*at);
        }
        let id = shoal_ca::identity_from_pem(&tls.cert_pem).ok()?;
        let at = match self.cfg.cert_renew_after {
            Some(after) => id.not_before + shoal_ca::CERT_BACKDATE + after,
            None => id.renew_at(0.5 + 0.3 * rand::random::<f64>()),
        };
        *plan = Some((tls.cert_pem, at));
        Some(at)
    }

    /// Gets a new certificate (same role) and puts it to use.
    async fn renew_now(&self) -> Result<(), String> {
        let _guard = self.lifecycle.lock().await;
        let Some((state, old)) = self.files.load()? else {
            return Ok(());
        };
        let mut managers = state.managers.clone();
        if state.role == LocalRole::Manager {
            managers.insert(0, state.advertise_addr.clone());
        }
        let renewed =
            shoal_agent::join::renew(&managers, &old.root_pem, &old.cert_pem, &old.key_pem)
                .await
                .map_err(|e| e.to_string())?;
        let same_role = matches!(
            (renewed.role, state.role),
            (shoal_ca::Role::Manager, LocalRole::Manager)
                | (shoal_ca::Role::Worker, LocalRole::Worker)
        );
        if !same_role {
            return Ok(()); // a promotion or demotion is under way: the role change renews
        }
        let tls = TlsMaterial {
            root_pem: old.root_pem,
            cert_pem: renewed.cert_pem,
            key_pem: renewed.key_pem,
        };
        self.files.save(&state, &tls)?;
        if let Ok(m) = self.manager() {
            m.reload_tls(tls.clone()).map_err(|e| e.message)?;
        }
        self.stop_agent(false).await;
        self.start_agent(&state, &tls)
            .await
            .map_err(|e| e.message)?;
        info!(node.id = %state.node_id, "node certificate renewed");
        Ok(())
    }
}
