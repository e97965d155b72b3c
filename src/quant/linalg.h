// The dense linear algebra GPTQ needs, on row-major square matrices of doubles.
#pragma once

#include <cstdint>
#include <vector>

namespace tern {

// Overwrites the lower triangle of a ([n, n], symmetric) with L such that a = L L^T and
// zeroes the upper triangle. Returns false, leaving `a` unusable, when a is not
// positive definite.
bool cholesky_lower(std::vector<double>& a, int64_t n);

// Replaces a lower-triangular matrix with its inverse (also lower triangular).
void invert_lower(std::vector<double>& l, int64_t n);

// Replaces h ([n, n], symmetric) with the upper-triangular U such that U^T U = h^-1
// (what GPTQ calls the Cholesky factor of the inverse Hessian), in place; returns false,
// leaving `a` unusable, when h is not positive definite. One Cholesky and one triangular
// inverse: with J the order-reversing permutation and J h J = L L^T, U = J L^-1 J.
bool inverse_cholesky_upper(std::vector<double>& a, int64_t n);

}  // namespace tern
