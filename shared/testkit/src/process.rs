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
            sender.send(command.spawn()).expect("the test waits for the spawn");
            loop {
                std::thread::park();
            }
        });
        let child = receiver
            .recv()
            .expect("spawner thread answers")
            .unwrap_or_else(|error| panic!("could not start {name}: {error}"));
        Self { name: name.to_owned(), child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for TestProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
