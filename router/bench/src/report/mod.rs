//! TEMPORARY stub until the report module lands.
use std::path::{Path, PathBuf};
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("not built yet")]
    NotYet,
}
pub fn write_html(_r: &crate::results::BenchResults, _p: &Path) -> Result<(), ReportError> {
    Err(ReportError::NotYet)
}
pub fn write_pngs(
    _r: &crate::results::BenchResults,
    _d: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    Err(ReportError::NotYet)
}
