//! A FAKE `libnvidia-ml.so.1` for tests on machines without a GPU
//! (scripts/nvml-fake, C, built against NVIDIA's own `nvml.h`): the code
//! under test loads it exactly as it loads the driver's library, and tests
//! rewrite its state file while the router or agent runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::vllm_fleet::repo_root;

pub const UUID0: &str = "GPU-11111111-2222-3333-4444-555555555555";
pub const UUID1: &str = "GPU-66666666-7777-8888-9999-000000000000";
pub const GIB: u64 = 1 << 30;

/// Builds the fake library into `dir` (a fresh copy per test, so that each
/// test's state file, kept beside it, is its own).
pub fn fake_nvml(dir: &Path) -> PathBuf {
    let out = Command::new(repo_root().join("scripts/nvml-fake/build.sh"))
        .arg(dir)
        .output()
        .expect("run scripts/nvml-fake/build.sh");
    assert!(
        out.status.success(),
        "building the fake NVML failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let path = PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .expect("library path")
            .trim(),
    );
    assert!(path.is_file(), "{}", path.display());
    path
}

/// Writes the fake's state beside the library, atomically (write, rename).
pub fn set_state(library: &Path, used_gib: [u64; 2], util: [u32; 2]) {
    let text = format!(
        "count=2\ndriver_version=550.54.15\n\
         0.name=NVIDIA H100 80GB HBM3\n0.uuid={UUID0}\n0.memory_total={}\n0.memory_used={}\n0.util_gpu={}\n0.util_memory=10\n0.temperature=51\n0.power_mw=312500\n\
         1.name=NVIDIA H100 80GB HBM3\n1.uuid={UUID1}\n1.memory_total={}\n1.memory_used={}\n1.util_gpu={}\n1.temperature=48\n1.power_mw=98000\n",
        80 * GIB,
        used_gib[0] * GIB,
        util[0],
        80 * GIB,
        used_gib[1] * GIB,
        util[1],
    );
    let state = state_path(library);
    let tmp = state.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write state");
    std::fs::rename(&tmp, &state).expect("rename state");
}

pub fn state_path(library: &Path) -> PathBuf {
    library.with_file_name("fake-nvml-state")
}
