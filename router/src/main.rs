use std::process::ExitCode;

// glibc malloc's free-list consolidation showed up at several percent of a
// busy router core; mimalloc's thread-local pages avoid it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    switchyard::cli::main()
}
