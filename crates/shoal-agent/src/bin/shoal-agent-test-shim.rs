//! Test aid: runs the process driver's task shim, as `shoal task-shim` does in production.
#![forbid(unsafe_code)]

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(shoal_agent::shim_main(args));
}
