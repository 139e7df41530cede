//! `reel man`: the man pages, generated from the clap definition — reel(1) and one
//! reel-SUBCOMMAND(1) per subcommand.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::cli::man::Args;
use crate::exit::{Context, Status, usage};

/// The roff of one page: `sub` is `None` for reel(1), else that subcommand's reel-SUB(1).
fn render(sub: Option<&clap::Command>) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    match sub {
        None => clap_mangen::Man::new(Cli::command()).render(&mut out)?,
        Some(sub) => clap_mangen::Man::new(sub.clone())
            .title(format!("reel-{}", sub.get_name()))
            .render(&mut out)?,
    }
    Ok(out)
}

/// Prints one page (roff) to stdout, or writes them all with `--out-dir`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    let mut cli = Cli::command();
    cli.build();
    let subs: Vec<clap::Command> = cli
        .get_subcommands()
        .filter(|s| s.get_name() != "help")
        .cloned()
        .collect();
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("--out-dir {}", dir.display()))?;
        let mut pages = vec![("reel".to_string(), render(None)?)];
        for sub in &subs {
            pages.push((format!("reel-{}", sub.get_name()), render(Some(sub))?));
        }
        for (name, roff) in pages {
            let path = dir.join(format!("{name}.1"));
            std::fs::write(&path, roff).with_context(|| path.display().to_string())?;
            crate::logline::info(&format!("wrote {}", path.display()));
        }
        return Ok(Status::Success);
    }
    let roff = match &args.command {
        None => render(None)?,
        Some(name) => {
            let sub = subs.iter().find(|s| s.get_name() == name).ok_or_else(|| {
                let names: Vec<&str> = subs.iter().map(|s| s.get_name()).collect();
                usage(
                    "SUBCOMMAND",
                    format!("no subcommand {name:?}; one of: {}", names.join(", ")),
                )
            })?;
            render(Some(sub))?
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&roff)?;
    stdout.flush()?;
    Ok(Status::Success)
}
