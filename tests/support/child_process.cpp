// Child processes for tests (see child_process.h).
#include "child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace activity::test {
namespace {

void make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
}

}  // namespace

std::string binary_from_env(const char* variable) {
  const char* value = std::getenv(variable);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string(variable) +
                             " is not set (run the tests with meson test)");
  }
  return value;
}

ChildProcess::ChildProcess(const std::string& path,
                           const std::vector<std::string>& args) {
  int in[2], out[2], err[2];
  make_pipe(in);
  make_pipe(out);
  make_pipe(err);
  std::vector<std::string> argv_strings{path};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    signal(SIGPIPE, SIG_DFL);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  stdin_fd_ = in[1];
  out_.fd = out[0];
  err_.fd = err[0];
}

ChildProcess::~ChildProcess() {
  if (!status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  close_stdin();
  if (out_.fd >= 0) ::close(out_.fd);
  if (err_.fd >= 0) ::close(err_.fd);
}

void ChildProcess::write_stdin(const std::string& bytes) {
  std::size_t written = 0;
  while (stdin_fd_ >= 0 && written < bytes.size()) {
    const ssize_t n = ::write(stdin_fd_, bytes.data() + written,
                              bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the child is gone; the test checks its exit
    written += static_cast<std::size_t>(n);
  }
}

void ChildProcess::close_stdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

void ChildProcess::pump(int wait_ms) {
  pollfd fds[2];
  Stream* streams[2];
  int count = 0;
  for (Stream* stream : {&out_, &err_}) {
    if (stream->eof) continue;
    fds[count] = pollfd{stream->fd, POLLIN, 0};
    streams[count++] = stream;
  }
  if (count == 0) {
    poll(nullptr, 0, wait_ms);  // nothing left to read: just wait
    return;
  }
  if (poll(fds, static_cast<nfds_t>(count), wait_ms) <= 0) return;
  for (int i = 0; i < count; ++i) {
    if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    char chunk[65536];
    const ssize_t n = ::read(fds[i].fd, chunk, sizeof chunk);
    if (n <= 0) {
      streams[i]->eof = true;
      continue;
    }
    streams[i]->buffer.append(chunk, static_cast<std::size_t>(n));
    if (streams[i] == &err_) stderr_seen_.append(chunk, static_cast<std::size_t>(n));
  }
}

std::optional<std::string> ChildProcess::read_line(Stream& stream,
                                                   Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::size_t end = stream.buffer.find('\n');
    if (end != std::string::npos) {
      std::string line = stream.buffer.substr(0, end);
      stream.buffer.erase(0, end + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<Millis>(
        deadline - std::chrono::steady_clock::now());
    if (stream.eof || left.count() <= 0) return std::nullopt;
    pump(static_cast<int>(left.count()) + 1);
  }
}

std::optional<std::string> ChildProcess::read_stdout_line(Millis timeout) {
  return read_line(out_, timeout);
}

std::optional<std::string> ChildProcess::read_stderr_line(Millis timeout) {
  return read_line(err_, timeout);
}

std::optional<std::string> ChildProcess::wait_stderr_line(
    const std::string& text, Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<Millis>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    std::optional<std::string> line = read_stderr_line(left);
    if (!line) return std::nullopt;
    if (line->find(text) != std::string::npos) return line;
  }
}

void ChildProcess::send_signal(int signal) {
  if (!status_) ::kill(pid_, signal);
}

std::optional<int> ChildProcess::wait_exit(Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!status_) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status)
                                  : 128 + WTERMSIG(status);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    pump(5);  // keeps the pipes drained while polling for the exit
  }
  return status_;
}

}  // namespace activity::test
