// Child processes for tests (see child_process.h). posix_spawn with
// close-from-3 gives the child only its three pipes.
#include "child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "tcp.h"

extern char** environ;

namespace activity::test {
namespace {

using Clock = std::chrono::steady_clock;

void make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::string binary_from_env(const char* variable) {
  const char* value = std::getenv(variable);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string(variable) +
                             " is not set (run the tests through meson test)");
  }
  return value;
}

ChildProcess::ChildProcess(const std::string& path,
                           const std::vector<std::string>& args) {
  // A write to the stdin of a child that has exited must fail, not kill
  // the test process.
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> argv_strings{path};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int in[2];
  int out[2];
  int err[2];
  make_pipe(in);
  make_pipe(out);
  make_pipe(err);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  // The child starts with default signal handling and nothing blocked,
  // whatever the test process (or its server threads) changed.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  const int spawned = posix_spawn(&pid_, path.c_str(), &actions, &attributes,
                                  argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  stdin_fd_ = in[1];
  stdout_fd_ = out[0];
  stderr_fd_ = err[0];
  if (spawned != 0) {
    pid_ = -1;
    close_fd(stdin_fd_);
    close_fd(stdout_fd_);
    close_fd(stderr_fd_);
    throw std::runtime_error("cannot start " + path + ": " +
                             std::strerror(spawned));
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    kill(pid_, SIGKILL);
    reap(true);
  }
  close_fd(stdin_fd_);
  close_fd(stdout_fd_);
  close_fd(stderr_fd_);
}

void ChildProcess::write_stdin(const std::string& text) {
  std::size_t written = 0;
  while (stdin_fd_ >= 0 && written < text.size()) {
    const ssize_t n =
        ::write(stdin_fd_, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the child is gone; its exit status tells why
    written += static_cast<std::size_t>(n);
  }
}

void ChildProcess::close_stdin() { close_fd(stdin_fd_); }

bool ChildProcess::pump(Clock::time_point deadline) {
  pollfd waiting[2] = {{stdout_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}};
  if (stdout_fd_ < 0 && stderr_fd_ < 0) return false;
  const int ready = poll(waiting, 2, poll_millis_until(deadline));
  if (ready <= 0) return false;
  char chunk[65536];
  bool got = false;
  for (int i = 0; i < 2; ++i) {
    if (waiting[i].revents == 0) continue;
    int& fd = i == 0 ? stdout_fd_ : stderr_fd_;
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) {
      close_fd(fd);  // poll ignores negative descriptors from now on
      got = true;    // a change of state: let the caller look again
      continue;
    }
    (i == 0 ? out_ : err_).append(chunk, static_cast<std::size_t>(n));
    got = true;
  }
  return got;
}

std::optional<std::string> ChildProcess::read_line(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const std::size_t end = out_.find('\n');
    if (end != std::string::npos) {
      std::string line = out_.substr(0, end);
      out_.erase(0, end + 1);
      return line;
    }
    if (stdout_fd_ < 0 || Clock::now() >= deadline) return std::nullopt;
    pump(deadline);
  }
}

bool ChildProcess::wait_stderr(const std::string& text, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (err_.find(text) != std::string::npos) return true;
    if (stderr_fd_ < 0 || Clock::now() >= deadline) return false;
    pump(deadline);
  }
}

bool ChildProcess::reap(bool block) {
  if (status_) return true;
  if (pid_ <= 0) return false;
  int raw = 0;
  pid_t done = 0;
  do {
    done = waitpid(pid_, &raw, block ? 0 : WNOHANG);
  } while (done < 0 && errno == EINTR);
  if (done != pid_) return false;
  status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  return true;
}

bool ChildProcess::running() { return !reap(false); }

void ChildProcess::send_signal(int signal) {
  if (pid_ > 0 && !reap(false)) kill(pid_, signal);
}

std::optional<int> ChildProcess::wait_exit(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  // The child holds its stdout and stderr until it exits: both ending is
  // the exit (or very nearly); collect the output on the way.
  while ((stdout_fd_ >= 0 || stderr_fd_ >= 0) && Clock::now() < deadline) {
    pump(deadline);
  }
  const bool exited =
      wait_until([this] { return reap(false); },
                 std::chrono::duration_cast<Millis>(deadline - Clock::now()) +
                     Millis(1));
  if (!exited) return std::nullopt;
  return status_;
}

}  // namespace activity::test
