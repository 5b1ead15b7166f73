// smooth-admin: the operator's command line for a libsmooth storage — migrations (shared,
// all tenants, one tenant), creating and deleting tenants, superusers and passwords,
// clearing dead sessions, an integrity check, and an online backup of a SQLite storage.
// Every command but backup and delete-tenant is idempotent; each stops at the first
// failure with a message naming the database.
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "access/validate.hpp"
#include "smooth/audit.hpp"
#include "smooth/platform.hpp"
#include "smooth/storage.hpp"
#include "storage/admin.hpp"

namespace {

constexpr const char* kUsage =
    R"(usage: smooth-admin [--storage URL] [--security-log FILE] [--masquerade-log FILE]
                    COMMAND [OPTIONS]

Commands:
  migrate                 migrate the shared database, then every tenant, in id order
  migrate --shared        migrate the shared database only
  migrate --tenant SLUG   migrate the shared database, then that tenant
  create-tenant --slug SLUG --name NAME [--time-zone ZONE] [--tier TIER] [--demo]
                [--as EMAIL]
                          create a tenant, acting as the superuser EMAIL (default: the
                          only active superuser); nothing to do if the slug exists
  create-superuser --email EMAIL [--name NAME] [--password-file FILE]
                          create a platform superuser; the password is the first line of
                          FILE, or of standard input (never a command-line argument);
                          nothing to do if the email exists as a superuser
  set-password --email EMAIL [--tenant SLUG] [--password-file FILE]
                          set the password of a platform user (of the tenant SLUG's user
                          with --tenant), read as for create-superuser, and end the
                          user's sessions: the way back in when a password is lost
  clear-sessions [--session-lifetime-days DAYS]
                          delete the sessions nobody can use any more (ended, expired,
                          revoked, of a deactivated user) and their masquerades; DAYS is
                          the platform's session lifetime (default 14: use the server's);
                          run it from cron, as Django's clearsessions
  check                   SQLite: integrity_check on every database, migrations current, a
                          data file for every tenant, no stray files; PostgreSQL: migrations
                          current, a schema for every tenant and owned by it, no stray
                          tenant_* schemas, occupancy rows as the appointments call for; both:
                          no moment a resource's bookings exceed its capacity; exits 1 when
                          anything is wrong
  delete-tenant --slug SLUG --confirm SLUG [--reason TEXT] [--as EMAIL]
                          delete the tenant for good, with its data, domains and users,
                          acting as the superuser EMAIL (as create-tenant); it is suspended
                          first (with REASON) if it is not; the slug is never used again
  backup --to DIR         SQLite: copy shared.db, then every tenant that copy lists, into DIR
                          (made mode 0700 if it does not exist; else it must be empty), each
                          file a consistent snapshot while servers keep writing; files 0600,
                          synced; on failure nothing is left; PostgreSQL: use pg_dump

Options:
  --storage URL           sqlite:<dir> (default sqlite:./data), postgresql://... or a
                          libpq conninfo ('host=/run/postgresql dbname=smooth'); a new
                          storage goes only into a missing or empty directory, or a
                          database with nothing in public and no tenant_* schema
  --security-log FILE     append the security audit records (tenant and user creation,
                          password resets, sessions cleared) to FILE (JSON lines, mode 0600)
  --masquerade-log FILE   append the end of each masquerade clear-sessions or
                          delete-tenant ends to FILE (JSON lines, mode 0600); the other
                          commands log none, and neither write nor create FILE

Exit status: 0 success, 1 failure, 2 bad usage.
)";

int Usage(const std::string& problem) {
  std::cerr << "smooth-admin: " << problem << "\n\n" << kUsage;
  return 2;
}

int Fail(const smooth::Status& status) {
  std::cerr << "smooth-admin: " << status.ToString() << "\n";
  return 1;
}

// Command-line options after the command: "--flag value" pairs and bare "--flag"s.
struct Args {
  std::map<std::string, std::string> values;
  std::map<std::string, bool> flags;
};

// Takes the value after the option argv[i] into `values`, stepping `i` over it. An option
// given twice, or followed by another option or by nothing, is bad usage: which value was
// meant is not for the tool to guess.
std::optional<std::string> TakeValue(const std::vector<std::string>& argv, std::size_t& i,
                                     std::map<std::string, std::string>& values) {
  const std::string& name = argv[i];
  if (i + 1 >= argv.size() || argv[i + 1].starts_with("--")) return name + " needs a value";
  if (!values.emplace(name, argv[i + 1]).second) return name + " given twice";
  ++i;
  return std::nullopt;
}

std::optional<std::string> ParseOptions(const std::vector<std::string>& argv, std::size_t from,
                                        const std::vector<std::string>& with_value,
                                        const std::vector<std::string>& bare, Args& out) {
  for (std::size_t i = from; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (std::find(with_value.begin(), with_value.end(), a) != with_value.end()) {
      if (auto problem = TakeValue(argv, i, out.values)) return problem;
    } else if (std::find(bare.begin(), bare.end(), a) != bare.end()) {
      if (!out.flags.emplace(a, true).second) return a + " given twice";
    } else if (a == "--password") {
      return "a password is never taken from the command line (other users can read it): use "
             "--password-file FILE or standard input";
    } else {
      return "unexpected argument '" + a + "'";
    }
  }
  return std::nullopt;
}

// The first line of `in`, without its line ending.
std::string FirstLine(std::istream& in) {
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// The terminal settings NoEcho changed, for a signal that ends the process meanwhile.
termios saved_terminal{};

// Puts the terminal back as it was, then dies of `sig` as the default action would.
void RestoreTerminalAndDie(int sig) {
  ::tcsetattr(0, TCSANOW, &saved_terminal);  // async-signal-safe
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Turns off the echo of a terminal on standard input while it lives, so a password typed
// there is not shown (nor left in the scrollback). Interrupted (Ctrl-C, say), the terminal
// is put back before the process ends, or the user's shell would be left typing blind.
class NoEcho {
 public:
  NoEcho() : active_(::tcgetattr(0, &saved_terminal) == 0), handled_(active_) {
    if (!active_) return;
    struct sigaction restore {};
    restore.sa_handler = RestoreTerminalAndDie;
    sigemptyset(&restore.sa_mask);
    for (std::size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &restore, &old_[i]);
    termios quiet = saved_terminal;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    active_ = ::tcsetattr(0, TCSANOW, &quiet) == 0;
  }
  ~NoEcho() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_terminal);
    if (!handled_) return;
    for (std::size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  static constexpr std::array<int, 4> kSignals = {SIGINT, SIGTERM, SIGQUIT, SIGHUP};
  std::array<struct sigaction, 4> old_{};
  bool active_;
  bool handled_;  // the handlers were installed, and old_ holds what to put back
};

// The password: the first line of the --password-file, or of standard input (typed
// unseen when that is a terminal).
smooth::Result<std::string> ReadPassword(const Args& args) {
  if (!args.values.contains("--password-file")) {
    if (!::isatty(0)) return FirstLine(std::cin);
    std::string password;
    {
      NoEcho quiet;  // before the prompt, so nothing typed after it is shown
      std::cerr << "password: " << std::flush;
      password = FirstLine(std::cin);
    }
    std::cerr << "\n";
    return password;
  }
  const std::string& path = args.values.at("--password-file");
  std::ifstream in(path);
  const int open_errno = errno;
  std::error_code ec;
  if (!in || std::filesystem::is_directory(path, ec)) {
    return smooth::InvalidArgument(
        "--password-file: cannot read " + path + " (" +
        (in ? std::string("a directory") : std::string(std::strerror(open_errno))) + ")");
  }
  return FirstLine(in);
}

struct Stack {
  std::shared_ptr<smooth::Storage> storage;
  std::unique_ptr<smooth::Platform> platform;
};

// The audit files: --security-log and --masquerade-log (empty: not written).
struct Logs {
  std::string security;
  std::string masquerade;
};

smooth::Result<Stack> OpenPlatform(const std::string& url, const Logs& logs,
                                   smooth::PlatformOptions o = {}) {
  auto storage = smooth::OpenStorage(url);
  if (!storage) return storage.error();
  Stack s;
  s.storage = std::move(*storage);
  o.storage = s.storage;
  for (auto [path, sink] : {std::pair(&logs.security, &o.security_log),
                            std::pair(&logs.masquerade, &o.masquerade_log)}) {
    if (path->empty()) continue;
    auto file = smooth::FileAuditSink::Open(*path);
    if (!file) return file.error();
    *sink = std::move(*file);
  }
  auto platform = smooth::Platform::Open(o);
  if (!platform) return platform.error();
  s.platform = std::move(*platform);
  return s;
}

// OpenPlatform on a storage that exists already (RequireExisting), for the commands that
// cannot succeed on a new one: they create none.
smooth::Result<Stack> OpenExisting(const std::string& url, const Logs& logs,
                                   smooth::PlatformOptions o = {}) {
  SMOOTH_RETURN_IF_ERROR(smooth::internal::admin::RequireExisting(url));
  return OpenPlatform(url, logs, std::move(o));
}

int Migrate(const std::string& url, const Args& args) {
  auto progress = [](std::string_view line) { std::cout << line << "\n"; };
  smooth::Status s;
  if (args.flags.contains("--shared") && args.values.contains("--tenant"))
    return Usage("migrate: --shared and --tenant exclude each other");
  if (args.flags.contains("--shared"))
    s = smooth::internal::admin::MigrateShared(url, progress);
  else if (args.values.contains("--tenant"))
    s = smooth::internal::admin::MigrateTenant(url, args.values.at("--tenant"), progress);
  else
    s = smooth::internal::admin::MigrateAll(url, progress);
  if (!s.ok()) return Fail(s);
  std::cout << "migrations up to date\n";
  return 0;
}

int CreateSuperuser(const std::string& url, const Logs& logs, const Args& args) {
  if (!args.values.contains("--email")) return Usage("create-superuser: --email is required");
  // Looked up as Platform stores it: trimmed and in lower case.
  auto email = smooth::internal::NormalizeEmail(args.values.at("--email"), "--email");
  if (!email) return Fail(email.error());
  std::string name = args.values.contains("--name") ? args.values.at("--name") : "Superuser";
  auto password = ReadPassword(args);
  if (!password) return Fail(password.error());
  auto s = OpenPlatform(url, logs);
  if (!s) return Fail(s.error());
  {
    auto txn = s->storage->BeginShared(smooth::TxnMode::kRead);
    if (!txn) return Fail(txn.error());
    auto existing = (*txn)->FindUserByEmail(std::nullopt, *email);
    if (existing) {
      if (existing->role != smooth::Role::kSuperuser)
        return Fail(smooth::AlreadyExists("user " + existing->email +
                                          " exists and is not a superuser"));
      std::cout << "superuser " << existing->email << " already exists (id "
                << existing->id.value() << "); nothing to do\n";
      return 0;
    }
    if (existing.error().code() != smooth::StatusCode::kNotFound) return Fail(existing.error());
  }
  auto user = s->platform->CreateSuperuser(*email, name, *password);
  if (!user) return Fail(user.error());
  std::cout << "created superuser " << user->email << " (id " << user->id.value() << ")\n";
  return 0;
}

int SetPassword(const std::string& url, const Logs& logs, const Args& args) {
  if (!args.values.contains("--email")) return Usage("set-password: --email is required");
  // Nobody's password is in a storage that does not exist: do not leave one behind.
  if (auto exists = smooth::internal::admin::RequireExisting(url); !exists.ok())
    return Fail(exists);
  auto password = ReadPassword(args);
  if (!password) return Fail(password.error());
  auto s = OpenPlatform(url, logs);
  if (!s) return Fail(s.error());
  std::optional<smooth::TenantId> tenant;
  if (args.values.contains("--tenant")) {
    auto txn = s->storage->BeginShared(smooth::TxnMode::kRead);
    if (!txn) return Fail(txn.error());
    auto t = (*txn)->FindTenantBySlug(args.values.at("--tenant"));
    if (!t) return Fail(smooth::NotFound("--tenant: no tenant " + args.values.at("--tenant")));
    tenant = t->id;
  }
  smooth::Status set =
      s->platform->ResetPasswordAsOperator(tenant, args.values.at("--email"), *password);
  if (!set.ok()) return Fail(set);
  std::cout << "password set for " << args.values.at("--email")
            << "; the user's sessions have ended\n";
  return 0;
}

// The superuser to act as: the one named (`as`, normalized), or the only active one there is.
// The value of --as, normalized as the platform stores emails; nullopt when not given.
smooth::Result<std::optional<std::string>> AsOption(const Args& args) {
  if (!args.values.contains("--as")) return std::optional<std::string>();
  auto email = smooth::internal::NormalizeEmail(args.values.at("--as"), "--as");
  if (!email) return email.error();
  return std::optional<std::string>(*email);
}

smooth::Result<smooth::User> Actor(smooth::Storage& storage, const std::optional<std::string>& as) {
  auto txn = storage.BeginShared(smooth::TxnMode::kRead);
  if (!txn) return txn.error();
  if (as) {
    auto user = (*txn)->FindUserByEmail(std::nullopt, *as);
    if (!user) return user;
    if (user->role != smooth::Role::kSuperuser || !user->is_active)
      return smooth::PermissionDenied(user->email + " is not an active superuser");
    return user;
  }
  auto users = (*txn)->ListUsers(std::nullopt);
  if (!users) return users.error();
  std::vector<smooth::User> superusers;
  for (smooth::User& u : *users)
    if (u.role == smooth::Role::kSuperuser && u.is_active) superusers.push_back(std::move(u));
  if (superusers.size() != 1)
    return smooth::FailedPrecondition(
        superusers.empty() ? "no active superuser: run create-superuser first"
                           : "several superusers: say which one with --as EMAIL");
  return superusers.front();
}

// The superuser the command acts as (Actor), as a Principal of `s`'s platform.
smooth::Result<smooth::Principal> ActingSuperuser(Stack& s, const std::optional<std::string>& as) {
  auto actor = Actor(*s.storage, as);
  if (!actor) return actor.error();
  return s.platform->ActAs(actor->id);
}

int CreateTenant(const std::string& url, const Logs& logs, const Args& args) {
  if (!args.values.contains("--slug") || !args.values.contains("--name"))
    return Usage("create-tenant: --slug and --name are required");
  smooth::TenantSpec spec;
  spec.slug = args.values.at("--slug");
  spec.name = args.values.at("--name");
  if (args.values.contains("--time-zone")) spec.time_zone = args.values.at("--time-zone");
  if (args.values.contains("--tier")) {
    auto tier = smooth::ParseTier(args.values.at("--tier"));
    if (!tier) return Fail(tier.error());
    spec.tier = *tier;
  }
  spec.is_demo = args.flags.contains("--demo");
  auto as = AsOption(args);
  if (!as) return Fail(as.error());
  // A new storage has no superuser to act as: do not leave one behind.
  auto s = OpenExisting(url, logs);
  if (!s) return Fail(s.error());
  {
    auto txn = s->storage->BeginShared(smooth::TxnMode::kRead);
    if (!txn) return Fail(txn.error());
    auto existing = (*txn)->FindTenantBySlug(spec.slug);
    if (existing) {
      std::cout << "tenant '" << existing->slug << "' already exists (id " << existing->id.value()
                << "); nothing to do\n";
      return 0;
    }
    if (existing.error().code() != smooth::StatusCode::kNotFound) return Fail(existing.error());
  }
  auto me = ActingSuperuser(*s, *as);
  if (!me) return Fail(me.error());
  auto tenant = s->platform->CreateTenant(*me, spec);
  if (!tenant) return Fail(tenant.error());
  std::cout << "created tenant '" << tenant->slug << "' (id " << tenant->id.value() << ")\n";
  return 0;
}

int DeleteTenant(const std::string& url, const Logs& logs, const Args& args) {
  if (!args.values.contains("--slug") || !args.values.contains("--confirm"))
    return Usage("delete-tenant: --slug and --confirm are required");
  const std::string& slug = args.values.at("--slug");
  if (args.values.at("--confirm") != slug)
    return Usage("delete-tenant: --confirm must repeat the slug, to say it is this tenant");
  const std::string reason =
      args.values.contains("--reason") ? args.values.at("--reason") : "deleted with smooth-admin";
  auto as = AsOption(args);
  if (!as) return Fail(as.error());
  auto s = OpenExisting(url, logs);
  if (!s) return Fail(s.error());
  smooth::Result<smooth::Tenant> tenant = smooth::NotFound("");
  {
    auto txn = s->storage->BeginShared(smooth::TxnMode::kRead);
    if (!txn) return Fail(txn.error());
    tenant = (*txn)->FindTenantBySlug(slug);
  }
  if (!tenant) {
    if (tenant.error().code() != smooth::StatusCode::kNotFound) return Fail(tenant.error());
    return Fail(
        smooth::NotFound("--slug: no tenant " + slug + " (deleted already, or never made)"));
  }
  auto me = ActingSuperuser(*s, *as);
  if (!me) return Fail(me.error());
  // Platform::DeleteTenant takes a suspended tenant only: the suspension (audited, with the
  // reason) is the first step here, as it would be by hand.
  if (tenant->status != smooth::TenantStatus::kSuspended) {
    auto suspended = s->platform->SuspendTenant(*me, tenant->id, reason);
    if (!suspended) return Fail(suspended.error());
  }
  smooth::Status deleted = s->platform->DeleteTenant(*me, tenant->id);
  if (!deleted.ok()) return Fail(deleted);
  std::cout << "deleted tenant '" << tenant->slug << "' (id " << tenant->id.value()
            << ") with its data, domains and users; the slug is not used again\n";
  return 0;
}

int ClearSessions(const std::string& url, const Logs& logs, const Args& args) {
  smooth::PlatformOptions o;
  if (args.values.contains("--session-lifetime-days")) {
    const std::string& text = args.values.at("--session-lifetime-days");
    int days = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), days);
    if (error != std::errc() || end != text.data() + text.size() || days < 1 || days > 3650)
      return Usage(
          "clear-sessions: --session-lifetime-days: a whole number of days from 1 to "
          "3650, not '" +
          text + "'");
    o.session_lifetime = std::chrono::days(days);
  }
  auto s = OpenExisting(url, logs, std::move(o));
  if (!s) return Fail(s.error());
  auto cleared = s->platform->ClearDeadSessions();
  if (!cleared) return Fail(cleared.error());
  std::cout << "cleared " << *cleared << " session" << (*cleared == 1 ? "" : "s") << "\n";
  return 0;
}

int Backup(const std::string& url, const Args& args) {
  if (!args.values.contains("--to")) return Usage("backup: --to DIR is required");
  const std::string& to = args.values.at("--to");
  auto report = smooth::internal::admin::Backup(
      url, to, [](std::string_view line) { std::cout << line << "\n"; });
  if (!report) return Fail(report.error());
  std::cout << "backed up shared.db and " << report->tenants << " tenant"
            << (report->tenants == 1 ? "" : "s") << " to " << to << " (" << report->bytes
            << " bytes)\n";
  return 0;
}

int Check(const std::string& url) {
  auto findings = smooth::internal::admin::Check(url);
  if (!findings) return Fail(findings.error());
  int problems = 0;
  for (const auto& f : *findings) {
    std::cout << (f.ok ? "ok       " : "PROBLEM  ") << f.database << ": " << f.detail << "\n";
    if (!f.ok) ++problems;
  }
  std::cout << findings->size() << " checked, " << problems << " problem"
            << (problems == 1 ? "" : "s") << "\n";
  return problems == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::map<std::string, std::string> globals;
  std::size_t i = 0;
  for (; i < args.size() && args[i].starts_with("-"); ++i) {
    if (args[i] == "-h" || args[i] == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (args[i] == "--storage" || args[i] == "--security-log" || args[i] == "--masquerade-log") {
      if (auto problem = TakeValue(args, i, globals)) return Usage(*problem);
      continue;
    }
    return Usage("unknown option '" + args[i] + "'");
  }
  const std::string url = globals.contains("--storage") ? globals.at("--storage") : "sqlite:./data";
  Logs logs;
  if (globals.contains("--security-log")) logs.security = globals.at("--security-log");
  if (globals.contains("--masquerade-log")) logs.masquerade = globals.at("--masquerade-log");
  if (i >= args.size()) return Usage("no command given");
  const std::string command = args[i];
  // `smooth-admin migrate --help` asks for help, as `smooth-admin --help` does; no value can
  // be "-h" or "--help" (an option's value never starts with '-').
  for (std::size_t j = i + 1; j < args.size(); ++j) {
    if (args[j] == "-h" || args[j] == "--help") {
      std::cout << kUsage;
      return 0;
    }
  }
  Args opts;
  std::optional<std::string> problem;
  std::function<int()> run;
  bool ends_masquerades = false;  // whether the command can write to --masquerade-log
  if (command == "migrate") {
    problem = ParseOptions(args, i + 1, {"--tenant"}, {"--shared"}, opts);
    run = [&] { return Migrate(url, opts); };
  } else if (command == "create-tenant") {
    problem = ParseOptions(args, i + 1, {"--slug", "--name", "--time-zone", "--tier", "--as"},
                           {"--demo"}, opts);
    run = [&] { return CreateTenant(url, logs, opts); };
  } else if (command == "create-superuser") {
    problem = ParseOptions(args, i + 1, {"--email", "--name", "--password-file"}, {}, opts);
    run = [&] { return CreateSuperuser(url, logs, opts); };
  } else if (command == "set-password") {
    problem = ParseOptions(args, i + 1, {"--email", "--tenant", "--password-file"}, {}, opts);
    run = [&] { return SetPassword(url, logs, opts); };
  } else if (command == "delete-tenant") {
    ends_masquerades = true;
    problem = ParseOptions(args, i + 1, {"--slug", "--confirm", "--reason", "--as"}, {}, opts);
    run = [&] { return DeleteTenant(url, logs, opts); };
  } else if (command == "clear-sessions") {
    ends_masquerades = true;
    problem = ParseOptions(args, i + 1, {"--session-lifetime-days"}, {}, opts);
    run = [&] { return ClearSessions(url, logs, opts); };
  } else if (command == "check") {
    problem = ParseOptions(args, i + 1, {}, {}, opts);
    run = [&] { return Check(url); };
  } else if (command == "backup") {
    problem = ParseOptions(args, i + 1, {"--to"}, {}, opts);
    run = [&] { return Backup(url, opts); };
  } else {
    return Usage("unknown command '" + command + "'");
  }
  if (problem) return Usage(command + ": " + *problem);
  // Given to every command alike (one set of global options in a wrapper script, say), the
  // file is opened, and so created, only by a command that may write a line to it.
  if (!ends_masquerades) logs.masquerade.clear();
  // A memory: storage ends with this process: nothing to migrate, check or back up, and what
  // create-* made would be gone when the command reports it done.
  if (url == "memory:")
    return Fail(smooth::InvalidArgument(
        "--storage memory: keeps nothing beyond this process; use sqlite:<dir> or "
        "postgresql://..."));
  return run();
}
