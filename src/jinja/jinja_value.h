// Values of the chat-template interpreter. They model the Python objects that Jinja sees
// when transformers renders a template (str, int, float, bool, None, list, tuple, dict,
// Jinja's Undefined and namespace, loop, macros) and nothing else: no value reaches host
// objects, so attribute access can never escape the interpreter.
//
// A Value is a 16-byte handle. Containers and strings live in a Heap owned by one
// render, freed all at once when it ends, so cycles (a namespace holding itself) and
// deep nesting cost no recursive destruction; the Heap also enforces the memory budget.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tern::jinja {

struct ListObj;
struct DictObj;
struct LoopObj;
struct CallableObj;
struct MacroDef;
class Scope;

enum class Kind : uint8_t {
  kUndefined,  // Jinja's default Undefined: prints "", falsy, iterates as empty
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kList,       // list or tuple (ListObj::is_tuple)
  kDict,       // insertion-ordered, like Python dicts
  kNamespace,  // namespace(): a DictObj with string keys and attribute syntax
  kLoop,       // the `loop` variable of a for loop
  kCallable,   // builtin function, bound method, macro, caller
};

class Value {
 public:
  Value() : kind_(Kind::kUndefined), ptr_(nullptr) {}

  // `name` (may be null) says what was undefined, for error messages; it must outlive
  // the render (a template node or a heap string).
  static Value undefined(const std::string* name) { return Value(Kind::kUndefined, name); }
  static Value none() { return Value(Kind::kNone, nullptr); }
  static Value boolean(bool b) {
    Value v(Kind::kBool, nullptr);
    v.int_ = b;
    return v;
  }
  static Value integer(int64_t i) {
    Value v(Kind::kInt, nullptr);
    v.int_ = i;
    return v;
  }
  static Value number(double f) {
    Value v(Kind::kFloat, nullptr);
    v.float_ = f;
    return v;
  }
  static Value string(const std::string* s) { return Value(Kind::kString, s); }
  static Value list(ListObj* l) { return Value(Kind::kList, l); }
  static Value dict(DictObj* d) { return Value(Kind::kDict, d); }
  static Value name_space(DictObj* d) { return Value(Kind::kNamespace, d); }
  static Value loop(LoopObj* l) { return Value(Kind::kLoop, l); }
  static Value callable(CallableObj* c) { return Value(Kind::kCallable, c); }

  Kind kind() const { return kind_; }
  bool is(Kind k) const { return kind_ == k; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_string() const { return kind_ == Kind::kString; }
  // int or bool (Python's bool is an int).
  bool is_integral() const { return kind_ == Kind::kInt || kind_ == Kind::kBool; }
  bool is_number() const { return is_integral() || kind_ == Kind::kFloat; }

  bool as_bool() const { return int_ != 0; }
  // Precondition: is_integral().
  int64_t as_int() const { return int_; }
  // Precondition: is_number().
  double as_double() const { return kind_ == Kind::kFloat ? float_ : static_cast<double>(int_); }
  const std::string& str() const { return *static_cast<const std::string*>(ptr_); }
  const std::string* undefined_name() const { return static_cast<const std::string*>(ptr_); }
  ListObj& list() const { return *static_cast<ListObj*>(const_cast<void*>(ptr_)); }
  DictObj& dict() const { return *static_cast<DictObj*>(const_cast<void*>(ptr_)); }
  LoopObj& loop() const { return *static_cast<LoopObj*>(const_cast<void*>(ptr_)); }
  CallableObj& callable() const { return *static_cast<CallableObj*>(const_cast<void*>(ptr_)); }
  const void* identity() const { return ptr_; }

 private:
  Value(Kind kind, const void* ptr) : kind_(kind), ptr_(ptr) {}

  Kind kind_;
  union {
    const void* ptr_;
    int64_t int_;
    double float_;
  };
};

// Python truthiness (Undefined is falsy, empty containers are falsy).
bool truthy(const Value& v);
// Python ==, with Jinja's rule that Undefined equals only Undefined.
bool py_equal(const Value& a, const Value& b);
// Python type name for messages: "str", "int", "list", "dict", "NoneType", ...
const char* type_name(const Value& v);
// Jinja's UndefinedError: using an Undefined in arithmetic, as a callee, or looking
// up an attribute of it. Throws tern::Error "chat template: 'name' is undefined".
[[noreturn]] void throw_undefined(const Value& v);
// Whether the value may be a dict key (str, numbers, bool, None, tuples of those).
bool is_hashable(const Value& v);

struct ValueHash {
  size_t operator()(const Value& v) const;
};
struct ValueKeyEqual {
  bool operator()(const Value& a, const Value& b) const { return py_equal(a, b); }
};

struct ListObj {
  std::vector<Value> items;
  bool is_tuple = false;
};

struct DictObj {
  std::vector<std::pair<Value, Value>> entries;

  // Precondition for both: is_hashable(key).
  const Value* find(const Value& key) const;
  void set(const Value& key, const Value& value);
  const Value* find_string(const std::string& key) const { return find(Value::string(&key)); }

 private:
  std::unordered_map<Value, size_t, ValueHash, ValueKeyEqual> index_;
};

// State of the innermost running for loop; attributes are computed on access.
struct LoopObj {
  const std::vector<Value>* items = nullptr;
  int64_t index0 = 0;
  int64_t length() const { return static_cast<int64_t>(items->size()); }
};

// Something a template can call. Builtins and methods are identified by small enums
// defined next to their implementations (jinja_globals.h, jinja_methods.h).
struct CallableObj {
  enum class Type : uint8_t {
    kBuiltin,    // id: Builtin
    kMethod,     // id: Method, bound to `self`
    kMacro,      // {% macro %} or a caller(): `macro` runs in a child of `closure`
    kLoopCycle,  // loop.cycle(...) of the loop `self`
  };
  Type type = Type::kBuiltin;
  int id = 0;
  Value self;
  const MacroDef* macro = nullptr;
  Scope* closure = nullptr;
};

// Owns everything created during one render and counts its bytes against a budget.
class Heap {
 public:
  explicit Heap(size_t max_bytes) : max_bytes_(max_bytes) {}
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  // Adds `bytes` to the memory in use; throws tern::Error past the budget.
  void charge(size_t bytes);
  size_t bytes_used() const { return bytes_; }

  Value make_string(std::string s);
  ListObj* make_list(bool is_tuple = false);
  DictObj* make_dict();
  LoopObj* make_loop();
  CallableObj* make_callable(CallableObj c);
  // Appends with memory accounting (list growth inside a render goes through here).
  void append(ListObj& list, const Value& v);
  void set(DictObj& dict, const Value& key, const Value& v);

 private:
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::deque<std::string> strings_;
  std::deque<ListObj> lists_;
  std::deque<DictObj> dicts_;
  std::deque<LoopObj> loops_;
  std::deque<CallableObj> callables_;
};

}  // namespace tern::jinja
