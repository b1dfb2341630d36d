//! `--dry-run`: the write port wrapped so that reads pass through and every write is logged
//! and skipped. It is the one mechanism: the loop has no dry-run branches.

use tracing::info;

use crate::crd::{VerticalPodAutoscalerCheckpoint, VerticalPodAutoscalerStatus};
use crate::ports::{ObjectKey, VpaWriter, WriteError};

/// A writer whose writes are logged and skipped.
#[derive(Debug, Clone)]
pub struct DryRun<W> {
    inner: W,
}

impl<W> DryRun<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self { inner }
    }
}

impl<W: VpaWriter> VpaWriter for DryRun<W> {
    async fn write_status(
        &self,
        key: &ObjectKey,
        status: &VerticalPodAutoscalerStatus,
    ) -> Result<(), WriteError> {
        let containers = status
            .recommendation
            .as_ref()
            .map_or(0, |r| r.container_recommendations.len());
        info!(dry_run = true, vpa = %key, containers, "would write status");
        Ok(())
    }

    async fn write_checkpoint(
        &self,
        checkpoint: &VerticalPodAutoscalerCheckpoint,
    ) -> Result<(), WriteError> {
        info!(dry_run = true, checkpoint = ?checkpoint.metadata.name, "would write checkpoint");
        Ok(())
    }

    async fn delete_checkpoint(&self, key: &ObjectKey) -> Result<(), WriteError> {
        info!(dry_run = true, checkpoint = %key, "would delete orphan checkpoint");
        Ok(())
    }

    async fn checkpoints(&self) -> Result<Vec<VerticalPodAutoscalerCheckpoint>, WriteError> {
        self.inner.checkpoints().await
    }
}
