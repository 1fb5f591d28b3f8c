use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc;

/// A child process that is killed when the handle drops or the test process exits.
pub struct TestProcess {
    pub name: String,
    child: Child,
}

impl TestProcess {
    /// Spawns `command` so that it dies with the test process even if the test
    /// aborts: the spawning thread lives as long as the process, and the child
    /// asks the kernel for SIGKILL when that thread goes away.
    pub fn spawn(name: &str, mut command: Command) -> Self {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            // SAFETY: prctl is async-signal-safe and touches only the child.
            unsafe {
                command.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            sender
                .send(command.spawn())
                .expect("the test waits for the spawn");
            loop {
                std::thread::park();
            }
        });
        let child = receiver
            .recv()
            .expect("spawner thread answers")
            .unwrap_or_else(|error| panic!("could not start {name}: {error}"));
        Self {
            name: name.to_owned(),
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit code once the process has exited (None while it runs, or
    /// when a signal ended it).
    pub fn exit_code(&mut self) -> Option<i32> {
        self.child.try_wait().ok().flatten()?.code()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for TestProcess {
    /// SIGTERM first so the process can clean up; SIGKILL if it lingers.
    fn drop(&mut self) {
        // SAFETY: plain syscall on our own child, not yet reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while std::time::Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
