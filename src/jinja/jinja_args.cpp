#include "jinja/jinja_args.h"

#include "base/error.h"

namespace tern::jinja {

ArgReader::ArgReader(std::string_view what, const CallArgs& args, std::initializer_list<std::string_view> names)
    : what_(what), names_(names), values_(names.size()) {
  if (args.positional.size() > names_.size())
    throw tern::error("chat template: ", what_, "() takes at most ", names_.size(), " arguments (",
                      args.positional.size(), " given)");
  for (size_t i = 0; i < args.positional.size(); ++i) values_[i] = args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    size_t i = 0;
    while (i < names_.size() && names_[i] != key) ++i;
    if (i == names_.size())
      throw tern::error("chat template: ", what_, "() got an unexpected keyword argument '", key, "'");
    if (values_[i]) throw tern::error("chat template: ", what_, "() got multiple values for argument '", key, "'");
    values_[i] = value;
  }
}

Value ArgReader::required(size_t index) const {
  if (!values_[index])
    throw tern::error("chat template: ", what_, "() missing required argument '", names_[index], "'");
  return *values_[index];
}

}  // namespace tern::jinja
