//! The arguments of `reel completions`: the shell.

use clap_complete::Shell;

/// Arguments of `reel completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  reel completions bash > /etc/bash_completion.d/reel")]
pub struct Args {
    /// The shell to generate for.
    #[arg(value_enum)]
    pub shell: Shell,
}
