// Python's operators on template values: arithmetic (+ - * / // % **, with str/list
// concatenation and repetition), comparisons and `in`. Type errors, division by zero
// and int64 overflow (Python would use big integers) throw tern::Error.
#pragma once

#include "jinja/jinja_ast.h"
#include "jinja/jinja_value.h"

namespace tern::jinja {

class Interpreter;

// Precondition: op is not kAnd/kOr (those short-circuit in the interpreter).
Value binary_op(Interpreter& in, BinaryOp op, const Value& a, const Value& b);
Value negate(const Value& v, bool minus);
bool compare_op(CompareOp op, const Value& a, const Value& b);
// obj[start:stop:step] for lists, tuples and strings (by code point); absent parts are
// None. Jinja slices with plain Python subscription (not the sandbox's getitem), so
// other objects and non-integer indices are errors.
Value slice_value(Interpreter& in, const Value& obj, const Value& start, const Value& stop, const Value& step);

}  // namespace tern::jinja
