//! `--user`: switching to an unprivileged user once everything that needs root is open.

use super::RuntimeError;

/// Switches to `name`'s user and group (supplementary groups cleared), for good: regaining root
/// afterwards is checked to fail. Does nothing when the process already runs as that user.
pub fn drop_to(name: &str) -> Result<(), RuntimeError> {
    use nix::unistd::{Gid, Uid, User, getegid, geteuid, setgid, setgroups, setuid};
    let user = User::from_name(name)
        .map_err(|source| RuntimeError::Lookup {
            user: name.to_owned(),
            source,
        })?
        .ok_or_else(|| RuntimeError::NoSuchUser(name.to_owned()))?;
    if geteuid() == user.uid && getegid() == user.gid {
        return Ok(());
    }
    let fail = |step: &'static str| {
        move |source| RuntimeError::Switch {
            user: name.to_owned(),
            step,
            source,
        }
    };
    setgroups(&[user.gid]).map_err(fail("set groups"))?;
    setgid(user.gid).map_err(fail("set the group"))?;
    setuid(user.uid).map_err(fail("set the user"))?;
    if !user.uid.is_root() && (setuid(Uid::from_raw(0)).is_ok() || setgid(Gid::from_raw(0)).is_ok())
    {
        return Err(RuntimeError::RootRegained(name.to_owned()));
    }
    tracing::info!("running as {name} (uid {}, gid {})", user.uid, user.gid);
    Ok(())
}
