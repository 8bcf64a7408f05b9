//! `--update-parallelism`, `--update-delay` and `--update-order` on `service create` and
//! `service update` (docker/cli's `addServiceFlags`): the parts of `UpdateConfig` shoal's
//! updater follows so far.

use clap::Args;
use shoal_types::service::{
    ServiceSpec, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigOrderEnum,
};

use crate::error::CliError;
use crate::service_flags as f;

/// The update-config flags; only those given change the spec.
#[derive(Debug, Clone, Default, Args)]
pub struct UpdateConfigFlags {
    /// Maximum number of tasks updated simultaneously (0 to update all at once)
    #[arg(long = "update-parallelism")]
    pub parallelism: Option<u64>,
    /// Delay between updates (ns|us|ms|s|m|h)
    #[arg(long = "update-delay", value_parser = f::duration)]
    pub delay: Option<i64>,
    /// Update order ("start-first", "stop-first")
    #[arg(long = "update-order")]
    pub order: Option<String>,
}

impl UpdateConfigFlags {
    /// Whether any flag was given.
    pub fn any(&self) -> bool {
        self.parallelism.is_some() || self.delay.is_some() || self.order.is_some()
    }

    /// Writes the given flags into the spec's update config.
    pub fn apply(&self, spec: &mut ServiceSpec) -> Result<(), CliError> {
        if !self.any() {
            return Ok(());
        }
        let u = spec
            .update_config
            .get_or_insert_with(ServiceSpecUpdateConfig::default);
        if let Some(p) = self.parallelism {
            u.parallelism = Some(p as i64);
        }
        if let Some(d) = self.delay {
            u.delay = Some(d);
        }
        if let Some(o) = &self.order {
            u.order = Some(match o.as_str() {
                "start-first" => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
                "stop-first" => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
                other => {
                    return Err(CliError::msg(format!(
                        "invalid argument \"{other}\" for \"--update-order\" flag: must be \
                         \"start-first\" or \"stop-first\""
                    )));
                }
            });
        }
        Ok(())
    }
}
