// kiln_conformance: runs the ONNX backend test suite and checks it against the manifest.
//
//   kiln_conformance --root DIR... [--manifest FILE] [--write-manifest FILE] [--filter TEXT] [--jobs N]
//
// Each case runs in a child process, so a crash or hang in one case is reported as that case's failure.
// With --manifest, exits non-zero when a case the manifest lists as `pass` does not pass, or when a case has
// no manifest entry (every case needs a status and, unless it passes, a reason).

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

#include "cases.h"

using namespace kiln::conformance;

namespace {

constexpr int kCaseTimeoutSeconds = 300;

struct Running {
  pid_t pid;
  int fd;
  size_t index;
  std::chrono::steady_clock::time_point started;
  std::string out;
};

const char* outcome_name(Outcome o) {
  return o == Outcome::kPass ? "pass" : o == Outcome::kRefused ? "refused" : "fail";
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (s.size() > 300) s = s.substr(0, 297) + "...";
  return s;
}

Running start(const Case& c, size_t index) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    Result r = run_case(c);
    std::string line = fmt::format("{} {}", outcome_name(r.outcome), one_line(r.detail));
    ssize_t ignored = write(fds[1], line.data(), line.size());
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  return {pid, fds[0], index, std::chrono::steady_clock::now(), ""};
}

Result finish(Running& r, bool timed_out) {
  if (timed_out) kill(r.pid, SIGKILL);
  int status = 0;
  waitpid(r.pid, &status, 0);
  close(r.fd);
  if (timed_out) return {Outcome::kFail, fmt::format("timed out after {} s", kCaseTimeoutSeconds)};
  if (WIFSIGNALED(status)) return {Outcome::kFail, fmt::format("crashed with signal {}", WTERMSIG(status))};
  std::istringstream in(r.out);
  std::string word, rest;
  in >> word;
  std::getline(in, rest);
  if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
  if (word == "pass") return {Outcome::kPass, ""};
  if (word == "refused") return {Outcome::kRefused, rest};
  return {Outcome::kFail, word.empty() ? "the case process exited without a result" : rest};
}

std::vector<Result> run_all(const std::vector<Case>& cases, int jobs) {
  std::vector<Result> results(cases.size());
  std::vector<Running> running;
  size_t next = 0;
  while (next < cases.size() || !running.empty()) {
    while (next < cases.size() && static_cast<int>(running.size()) < jobs) running.push_back(start(cases[next], next)), ++next;
    std::vector<pollfd> fds;
    for (const Running& r : running) fds.push_back({r.fd, POLLIN, 0});
    poll(fds.data(), fds.size(), 200);
    for (size_t i = 0; i < running.size();) {
      Running& r = running[i];
      bool done = false, timed_out = false;
      if (fds[i].revents & (POLLIN | POLLHUP)) {
        char buf[4096];
        ssize_t n = read(r.fd, buf, sizeof buf);
        if (n > 0) r.out.append(buf, static_cast<size_t>(n));
        else done = true;
      }
      if (!done && std::chrono::steady_clock::now() - r.started > std::chrono::seconds(kCaseTimeoutSeconds))
        done = timed_out = true;
      if (done) {
        results[r.index] = finish(r, timed_out);
        fds.erase(fds.begin() + static_cast<long>(i));
        running.erase(running.begin() + static_cast<long>(i));
      } else {
        ++i;
      }
    }
  }
  return results;
}

// manifest: "<status> <case id> [reason]" per line; '#' starts a comment.
std::map<std::string, std::pair<std::string, std::string>> read_manifest(const std::string& path) {
  std::map<std::string, std::pair<std::string, std::string>> m;
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read manifest " + path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string status, id, reason;
    in >> status >> id;
    std::getline(in, reason);
    if (!reason.empty() && reason[0] == ' ') reason.erase(0, 1);
    m[id] = {status, reason};
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> roots;
  std::string manifest, write_manifest, filter;
  int jobs = 2;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--root") roots.push_back(value());
    else if (a == "--manifest") manifest = value();
    else if (a == "--write-manifest") write_manifest = value();
    else if (a == "--filter") filter = value();
    else if (a == "--jobs") jobs = std::stoi(value());
    else if (a == "--verbose") verbose = true;
    else {
      fmt::print(stderr, "unknown argument {}\n", a);
      return 2;
    }
  }
  std::vector<Case> cases;
  for (Case& c : find_cases(roots))
    if (filter.empty() || c.id.find(filter) != std::string::npos) cases.push_back(std::move(c));
  std::vector<Result> results = run_all(cases, jobs);

  std::map<std::string, std::array<int, 3>> counts;
  for (size_t i = 0; i < cases.size(); ++i) {
    ++counts[cases[i].folder][static_cast<size_t>(results[i].outcome)];
    ++counts["total"][static_cast<size_t>(results[i].outcome)];
    if (verbose && results[i].outcome != Outcome::kPass)
      fmt::print("{:<8} {} {}\n", outcome_name(results[i].outcome), cases[i].id, results[i].detail);
  }
  for (const auto& [folder, c] : counts) {
    int n = c[0] + c[1] + c[2];
    fmt::print("{:<18} pass {:>5}  fail {:>5}  refused {:>5}  of {:>5}  ({:.1f}% pass)\n", folder, c[0], c[1], c[2], n,
               n ? 100.0 * c[0] / n : 0.0);
  }
  if (!write_manifest.empty()) {
    std::ofstream f(write_manifest);
    f << "# ONNX backend conformance manifest (tests/conformance). One case per line: status, case, reason.\n"
         "# `pass` cases must keep passing; others carry the reason they do not pass yet.\n";
    for (size_t i = 0; i < cases.size(); ++i)
      f << outcome_name(results[i].outcome) << ' ' << cases[i].id
        << (results[i].detail.empty() ? "" : " " + results[i].detail) << '\n';
  }
  if (manifest.empty()) return 0;
  auto expected = read_manifest(manifest);
  int regressions = 0, unlisted = 0, improved = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    auto it = expected.find(cases[i].id);
    if (it == expected.end()) {
      ++unlisted;
      fmt::print("NOT IN MANIFEST {} ({}: {})\n", cases[i].id, outcome_name(results[i].outcome), results[i].detail);
    } else if (it->second.first == "pass" && results[i].outcome != Outcome::kPass) {
      ++regressions;
      fmt::print("REGRESSION {}: {}\n", cases[i].id, results[i].detail);
    } else if (it->second.first != "pass" && results[i].outcome == Outcome::kPass) {
      ++improved;
      fmt::print("now passes (mark it `pass` in the manifest): {}\n", cases[i].id);
    }
  }
  fmt::print("manifest: {} regressions, {} cases without an entry, {} newly passing\n", regressions, unlisted, improved);
  return regressions || unlisted ? 1 : 0;
}
