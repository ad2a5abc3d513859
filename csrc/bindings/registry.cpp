#include "registry.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace opzoo::bindings {
namespace {

// Filled by the static Registration objects of the binding files while the module loads.
std::vector<std::pair<std::string, RegisterFunction>>& registrations() {
  static std::vector<std::pair<std::string, RegisterFunction>> list;
  return list;
}

}  // namespace

Registration::Registration(const char* name, RegisterFunction add) { registrations().emplace_back(name, add); }

void register_all(pybind11::module_& m) {
  auto list = registrations();
  std::sort(list.begin(), list.end());
  for (const auto& entry : list) entry.second(m);
}

}  // namespace opzoo::bindings
