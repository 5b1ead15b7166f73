// A consumer of an add_subdirectory()'d libsmooth: opens a Platform, creates a tenant, and
// checks what came back. Exits non-zero on any mismatch.
#include <fmt/format.h>

#include <cstdlib>
#include <smooth/smooth.hpp>

namespace {

int Fail(std::string_view what, const smooth::Status& status) {
  fmt::print("FAILED {}: {}\n", what, status.ToString());
  return EXIT_FAILURE;
}

}  // namespace

int main() {
  auto platform =
      smooth::Platform::Open({.storage = smooth::NewMemoryStorage(),
                              .password_cost = smooth::PasswordCost::InsecureForTests()});
  if (!platform) return Fail("Platform::Open", platform.error());
  auto root = (*platform)->CreateSuperuser("root@example.com", "Root", "correct horse battery");
  if (!root) return Fail("CreateSuperuser", root.error());
  auto me = (*platform)->ActAs(root->id);
  if (!me) return Fail("ActAs", me.error());
  auto acme = (*platform)->CreateTenant(
      *me, {.slug = "acme", .name = "Acme", .time_zone = "Europe/London"});
  if (!acme) return Fail("CreateTenant", acme.error());
  if (!acme->id.valid() || acme->slug != "acme" || acme->time_zone != "Europe/London")
    return Fail("CreateTenant", smooth::Internal("unexpected tenant fields"));
  auto again = (*platform)->CreateTenant(*me, {.slug = "acme", .name = "Again"});
  if (again || again.error().code() != smooth::StatusCode::kAlreadyExists)
    return Fail("duplicate slug", again ? smooth::Internal("was accepted") : again.error());
  auto host = (*platform)->ResolveHost("acme.lvh.me");
  if (!host) return Fail("ResolveHost", host.error());
  if (host->is_platform || !host->tenant || host->tenant->id != acme->id)
    return Fail("ResolveHost", smooth::Internal("did not lead to acme"));
  fmt::print("add_subdirectory consumer: tenant {} (id {}) ok\n", acme->slug, acme->id);
  return EXIT_SUCCESS;
}
