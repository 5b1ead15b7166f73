// The audit trail: one JSON object per line that user data cannot forge, and the sinks.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "smooth/audit.hpp"
#include "smooth/time.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using smooth::AuditRecord;
using smooth::StatusCode;

const smooth::Instant kWhen = smooth::Instant(
    std::chrono::sys_days{std::chrono::year{2026} / 11 / 26} + std::chrono::hours{14} +
    std::chrono::minutes{3} + std::chrono::seconds{7} + std::chrono::microseconds{250000});

AuditRecord Record(std::string action,
                   std::vector<std::pair<std::string, smooth::AuditValue>> fields = {}) {
  return AuditRecord{kWhen, std::move(action), std::move(fields)};
}

// A fresh directory under the system temp dir, removed at the end of the test.
struct TempDir {
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "smooth_audit_test_XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  fs::path path;
};

std::vector<std::string> ReadLines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string ReadAll(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

unsigned Mode(const fs::path& file) {
  struct stat st;
  REQUIRE(::stat(file.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("a record is one JSON object: timestamp, action, then the fields in order") {
  AuditRecord r = Record("GRANT_CREATED", {{"actor", std::string("u1")},
                                           {"tenant_id", std::int64_t{42}},
                                           {"is_demo", true},
                                           {"reason", nullptr}});
  const std::string line = r.ToJsonLine();
  json::object o = json::parse(line).as_object();
  REQUIRE(o.size() == 6);
  auto it = o.begin();
  CHECK(it++->key() == "timestamp");
  CHECK(it++->key() == "action");
  CHECK(it++->key() == "actor");
  CHECK(it++->key() == "tenant_id");
  CHECK(it++->key() == "is_demo");
  CHECK(it++->key() == "reason");

  CHECK(o.at("action").as_string() == "GRANT_CREATED");
  CHECK(o.at("actor").as_string() == "u1");
  CHECK(o.at("tenant_id").as_int64() == 42);
  CHECK(o.at("is_demo").as_bool() == true);
  CHECK(o.at("reason").is_null());
  CHECK(line.starts_with("{\"timestamp\":"));
}

TEST_CASE("string literals and integers pick the right field type") {
  AuditRecord r = Record("X", {{"s", "text"}, {"n", std::int64_t{-7}}, {"b", false}});
  json::object o = json::parse(r.ToJsonLine()).as_object();
  CHECK(o.at("s").is_string());
  CHECK(o.at("s").as_string() == "text");
  CHECK(o.at("n").as_int64() == -7);
  CHECK(o.at("b").as_bool() == false);
}

TEST_CASE("the timestamp is RFC 3339 UTC and round-trips") {
  json::object o = json::parse(Record("LOGIN_FAILED").ToJsonLine()).as_object();
  const std::string ts(o.at("timestamp").as_string());
  CAPTURE(ts);
  CHECK(ts.ends_with("Z"));
  auto parsed = smooth::ParseRfc3339(ts);
  REQUIRE(parsed);
  CHECK(*parsed == kWhen);
}

TEST_CASE("user data cannot break out of its field or its line") {
  const std::string hostile[] = {
      "say \"hi\"",
      "C:\\temp\\x",
      "\n{\"action\":\"HIJACK_START\"}",
      "\r\n\t\b\f\x01\x1f end",
      "Z\xc3\xbcrich \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8f\x8b",
      "\",\"action\":\"HIJACK_START",
      std::string("nul\0inside", 10),
  };
  for (const std::string& value : hostile) {
    CAPTURE(value);
    const std::string line = Record("PROFILE_UPDATED", {{"display_name", value}}).ToJsonLine();
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.find('\r') == std::string::npos);
    json::object o = json::parse(line).as_object();
    CHECK(o.size() == 3);
    CHECK(o.at("action").as_string() == "PROFILE_UPDATED");
    CHECK(std::string(o.at("display_name").as_string()) == value);
  }
}

TEST_CASE("the action and keys are escaped too") {
  const std::string line = Record("A\"B\nC", {{"we\"ird\nkey", std::int64_t{1}}}).ToJsonLine();
  CHECK(line.find('\n') == std::string::npos);
  json::object o = json::parse(line).as_object();
  CHECK(o.at("action").as_string() == "A\"B\nC");
  CHECK(o.at("we\"ird\nkey").as_int64() == 1);
}

TEST_CASE("keys that suggest a credential are refused by every sink") {
  smooth::MemoryAuditSink sink;
  for (const char* key : {"password", "new_password", "Password_Hash", "TOKEN", "bearer_token",
                          "client_secret", "hash", "pw_hash"}) {
    CAPTURE(key);
    smooth::Status s = sink.Append(Record("X", {{key, "x"}}));
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK_MESSAGE(s.message().find(key) != std::string::npos,
                  "message '" << s.message() << "' should name the key");
  }
  CHECK(sink.size() == 0);

  TempDir dir;
  auto file = smooth::FileAuditSink::Open((dir.path / "security.log").string());
  REQUIRE(file);
  CHECK((*file)->Append(Record("X", {{"api_token", "x"}})).code() == StatusCode::kInvalidArgument);
  CHECK(ReadAll(dir.path / "security.log").empty());
}

TEST_CASE("a field cannot repeat timestamp, action or another field") {
  smooth::MemoryAuditSink sink;
  CHECK(sink.Append(Record("X", {{"action", "HIJACK_START"}})).code() ==
        StatusCode::kInvalidArgument);
  CHECK(sink.Append(Record("X", {{"timestamp", "1970-01-01T00:00:00Z"}})).code() ==
        StatusCode::kInvalidArgument);
  CHECK(sink.Append(Record("X", {{"user", "a"}, {"user", "b"}})).code() ==
        StatusCode::kInvalidArgument);
  CHECK(sink.size() == 0);
  // Even when serialized directly, the real action wins.
  json::object o = json::parse(Record("X", {{"action", "HIJACK_START"}}).ToJsonLine()).as_object();
  CHECK(o.at("action").as_string() == "X");
}

// Any field may hold text from outside: an email or IP address given at login, a reason.
TEST_CASE("bytes that are not UTF-8 never make a line unreadable as JSON") {
  const std::string line =
      Record("LOGIN_FAILED\xff", {{"ip_address", std::string("203.0.113.9\xff")},
                                   {"email", std::string("a\xc3(@x.test")},
                                   {"k\xc0y", std::string("ok \xe2\x82\xac")}})
          .ToJsonLine();
  boost::system::error_code ec;
  const json::value parsed = json::parse(line, ec);
  REQUIRE_MESSAGE(!ec, line);
  const json::object& o = parsed.as_object();
  // Each bad byte is replaced by U+FFFD; valid text, the euro sign included, is kept.
  CHECK(o.at("action").as_string() == "LOGIN_FAILED\xef\xbf\xbd");
  CHECK(o.at("ip_address").as_string() == "203.0.113.9\xef\xbf\xbd");
  CHECK(o.at("email").as_string() == "a\xef\xbf\xbd(@x.test");
  CHECK(o.at("k\xef\xbf\xbdy").as_string() == "ok \xe2\x82\xac");
}

TEST_CASE("the memory sink keeps lines in order and can be cleared") {
  smooth::MemoryAuditSink sink;
  REQUIRE(sink.Append(Record("FIRST")).ok());
  REQUIRE(sink.Append(Record("SECOND", {{"n", std::int64_t{2}}})).ok());
  const std::vector<std::string> lines = sink.Lines();
  REQUIRE(lines.size() == 2);
  CHECK(sink.size() == 2);
  CHECK(json::parse(lines[0]).at("action").as_string() == "FIRST");
  CHECK(json::parse(lines[1]).at("action").as_string() == "SECOND");
  sink.Clear();
  CHECK(sink.size() == 0);
  CHECK(sink.Lines().empty());
}

TEST_CASE("the memory sink is safe to share between threads") {
  smooth::MemoryAuditSink sink;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&sink, t] {
      for (int i = 0; i < kPerThread; ++i) {
        CHECK(sink.Append(Record("X", {{"thread", std::int64_t{t}}, {"i", std::int64_t{i}}})).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(sink.size() == kThreads * kPerThread);
  // Every record is there exactly once, and each thread's in the order it appended them.
  std::vector<std::int64_t> next(kThreads, 0);
  for (const std::string& line : sink.Lines()) {
    json::object o = json::parse(line).as_object();
    CHECK(o.size() == 4);
    const std::int64_t t = o.at("thread").as_int64();
    REQUIRE(t >= 0);
    REQUIRE(t < kThreads);
    CHECK(o.at("i").as_int64() == next[static_cast<std::size_t>(t)]++);
  }
  for (std::int64_t n : next) CHECK(n == kPerThread);
}

TEST_CASE("the file sink creates the log with mode 0600 and writes one line per record") {
  TempDir dir;
  const fs::path log = dir.path / "security.log";
  auto sink = smooth::FileAuditSink::Open(log.string());
  REQUIRE(sink);
  CHECK(Mode(log) == 0600);
  REQUIRE((*sink)->Append(Record("LOGIN_FAILED", {{"email", "a@b.co"}})).ok());
  REQUIRE((*sink)->Append(Record("HIJACK_START", {{"note", "two\nlines"}})).ok());

  const std::string content = ReadAll(log);
  CHECK(content.back() == '\n');
  const std::vector<std::string> lines = ReadLines(log);
  REQUIRE(lines.size() == 2);
  CHECK(json::parse(lines[0]).at("action").as_string() == "LOGIN_FAILED");
  CHECK(json::parse(lines[1]).at("note").as_string() == "two\nlines");
}

TEST_CASE("the file sink appends across reopen") {
  TempDir dir;
  const fs::path log = dir.path / "masquerade.log";
  {
    auto sink = smooth::FileAuditSink::Open(log.string());
    REQUIRE(sink);
    REQUIRE((*sink)->Append(Record("HIJACK_START")).ok());
  }
  {
    auto sink = smooth::FileAuditSink::Open(log.string(), {.fsync_each_line = true});
    REQUIRE(sink);
    REQUIRE((*sink)->Append(Record("HIJACK_END")).ok());
  }
  const std::vector<std::string> lines = ReadLines(log);
  REQUIRE(lines.size() == 2);
  CHECK(json::parse(lines[0]).at("action").as_string() == "HIJACK_START");
  CHECK(json::parse(lines[1]).at("action").as_string() == "HIJACK_END");
}

TEST_CASE("the file sink tightens an existing world-readable log to 0600") {
  TempDir dir;
  const fs::path log = dir.path / "security.log";
  {
    std::ofstream out(log);
    out << "{\"earlier\":true}\n";
  }
  REQUIRE(::chmod(log.c_str(), 0644) == 0);
  REQUIRE(Mode(log) == 0644);
  auto sink = smooth::FileAuditSink::Open(log.string());
  REQUIRE(sink);
  CHECK(Mode(log) == 0600);
  REQUIRE((*sink)->Append(Record("X")).ok());
  const std::vector<std::string> lines = ReadLines(log);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "{\"earlier\":true}");
}

TEST_CASE("the file sink is safe to share between threads") {
  TempDir dir;
  const fs::path log = dir.path / "security.log";
  auto sink = smooth::FileAuditSink::Open(log.string());
  REQUIRE(sink);
  smooth::FileAuditSink& shared = **sink;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&shared, t] {
      for (int i = 0; i < kPerThread; ++i) {
        CHECK(
            shared
                .Append(Record("X", {{"thread", std::int64_t{t}}, {"pad", std::string(300, 'p')}}))
                .ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  const std::vector<std::string> lines = ReadLines(log);
  CHECK(lines.size() == kThreads * kPerThread);
  std::vector<int> per_thread(kThreads, 0);
  for (const std::string& line : lines) {
    json::object o = json::parse(line).as_object();
    CHECK(o.size() == 4);
    CHECK(o.at("pad").as_string() == std::string(300, 'p'));
    const std::int64_t t = o.at("thread").as_int64();
    REQUIRE(t >= 0);
    REQUIRE(t < kThreads);
    ++per_thread[static_cast<std::size_t>(t)];
  }
  for (int n : per_thread) CHECK(n == kPerThread);
}

TEST_CASE("opening an unwritable path is an error that names the path") {
  TempDir dir;
  const std::string missing_dir = (dir.path / "no" / "such" / "dir" / "security.log").string();
  auto missing = smooth::FileAuditSink::Open(missing_dir);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == StatusCode::kUnavailable);
  CHECK(missing.error().message().find(missing_dir) != std::string::npos);

  // A directory cannot be opened for writing, even by root.
  auto directory = smooth::FileAuditSink::Open(dir.path.string());
  REQUIRE_FALSE(directory);
  CHECK_FALSE(directory.error().ok());
  CHECK(directory.error().code() == StatusCode::kUnavailable);
  CHECK(directory.error().message().find(dir.path.string()) != std::string::npos);
}

TEST_CASE("the file sink refuses a symbolic link where the log should be") {
  TempDir dir;
  const fs::path target = dir.path / "elsewhere.txt";
  { std::ofstream(target) << "not a log\n"; }
  fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                              fs::perms::others_read);
  const fs::path link = dir.path / "security.log";
  fs::create_symlink(target, link);
  auto sink = smooth::FileAuditSink::Open(link.string());
  REQUIRE_FALSE(sink);
  CHECK(sink.error().code() == StatusCode::kUnavailable);
  CHECK(sink.error().message().find(link.string()) != std::string::npos);
  // The file it pointed at is untouched: same text, same mode.
  CHECK(ReadAll(target) == "not a log\n");
  CHECK((fs::status(target).permissions() & fs::perms::others_read) == fs::perms::others_read);
}

TEST_CASE("the file sink follows log rotation when told to reopen") {
  TempDir dir;
  const fs::path log = dir.path / "security.log";
  const fs::path rotated = dir.path / "security.log.1";
  auto sink = smooth::FileAuditSink::Open(log.string());
  REQUIRE(sink);
  REQUIRE((*sink)->Append(Record("A")).ok());
  // logrotate moves the file away: lines go on into the moved file until the reopen.
  fs::rename(log, rotated);
  REQUIRE((*sink)->Append(Record("B")).ok());
  CHECK_FALSE(fs::exists(log));
  REQUIRE((*sink)->Reopen().ok());
  REQUIRE((*sink)->Append(Record("C")).ok());
  CHECK(Mode(log) == 0600);
  auto actions = [](const fs::path& file) {
    std::vector<std::string> out;
    for (const std::string& line : ReadLines(file))
      out.push_back(std::string(json::parse(line).at("action").as_string()));
    return out;
  };
  CHECK(actions(rotated) == std::vector<std::string>{"A", "B"});
  CHECK(actions(log) == std::vector<std::string>{"C"});

  // A reopen that cannot open the path (a symbolic link put there) keeps the file it has.
  const fs::path again = dir.path / "security.log.2";
  fs::rename(log, again);
  fs::create_symlink(rotated, log);
  smooth::Status failed = (*sink)->Reopen();
  CHECK(failed.code() == StatusCode::kUnavailable);
  CHECK(failed.message().find(log.string()) != std::string::npos);
  REQUIRE((*sink)->Append(Record("D")).ok());
  CHECK(actions(again) == std::vector<std::string>{"C", "D"});
  CHECK(actions(rotated) == std::vector<std::string>{"A", "B"});
}
