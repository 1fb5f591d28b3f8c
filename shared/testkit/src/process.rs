use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process that is killed when the handle drops or the test process exits.
pub struct TestProcess {
    pub name: String,
    child: Child,
    /// The child leads a process group of its own (a master and the workers
    /// it forks): stopping it stops the whole group.
    group: bool,
    /// Reaped already: its pid may belong to another process by now.
    reaped: bool,
}

impl TestProcess {
    /// Spawns `command` so that it dies with the test process even if the test
    /// aborts: the spawning thread lives as long as the process, and the child
    /// asks the kernel for SIGKILL when that thread goes away.
    pub fn spawn(name: &str, command: Command) -> Self {
        Self::spawn_with(name, command, false)
    }

    /// Like [`TestProcess::spawn`], for a process that forks workers of its
    /// own (nginx's master): the kernel clears the parent-death signal in a
    /// fork, so the workers would outlive a master killed outright. It
    /// therefore leads a new process group, gets SIGTERM (not SIGKILL) when
    /// the test process dies, so it stops its workers itself, and
    /// [`TestProcess::stop`] kills whatever of its group is left.
    pub fn spawn_group(name: &str, command: Command) -> Self {
        Self::spawn_with(name, command, true)
    }

    fn spawn_with(name: &str, mut command: Command, group: bool) -> Self {
        let death_signal = if group {
            command.process_group(0);
            libc::SIGTERM
        } else {
            libc::SIGKILL
        };
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            // SAFETY: prctl is async-signal-safe and touches only the child.
            unsafe {
                command.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, death_signal) != 0 {
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
            group,
            reaped: false,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit code once the process has exited (None while it runs, or
    /// when a signal ended it).
    pub fn exit_code(&mut self) -> Option<i32> {
        self.try_reap()?.code()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.try_reap().is_none()
    }

    fn try_reap(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.try_wait().ok().flatten();
        self.reaped |= status.is_some();
        status
    }

    /// Whether the process has exited, without reaping it: until it is
    /// reaped its pid (and process group id) cannot be given to another.
    fn has_exited(&self) -> bool {
        // SAFETY: waitid writes only into `info`; WNOWAIT leaves the child
        // for `Child::wait` to reap.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let answer = libc::waitid(
                libc::P_PID,
                self.child.id(),
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            answer != 0 || info.si_pid() != 0
        }
    }

    /// SIGTERM, then up to `limit` for the process to exit, then SIGKILL (to
    /// its whole group, for a group); reaps it. Returns whether it exited
    /// on SIGTERM within `limit`.
    pub fn stop(&mut self, limit: Duration) -> bool {
        if self.reaped {
            return true;
        }
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain syscalls on our own child, not yet reaped, so neither
        // its pid nor its group id can name another process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + limit;
        let mut exited = self.has_exited();
        while !exited && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            exited = self.has_exited();
        }
        unsafe {
            if self.group {
                // Workers left behind by a master that died too early.
                libc::kill(-pid, libc::SIGKILL);
            } else if !exited {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
        self.reaped = true;
        exited
    }
}

impl Drop for TestProcess {
    /// SIGTERM first so the process can clean up; SIGKILL if it lingers.
    fn drop(&mut self) {
        self.stop(Duration::from_secs(3));
    }
}
