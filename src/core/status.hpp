// The one error convention of core and io (docs/DEVELOPMENT.md, "Errors"):
// a function that can fail returns Status (nothing else to return) or
// Result<T> (a value): success, or one line saying what went wrong and
// where, written for the operator. The caller decides what to do with it;
// only main and pushctl print and exit, and exceptions never cross a C
// callback.
//
// Outcomes that are part of the protocol rather than failures of the
// function (AuthError, ParseStatus, StoreStatus: each answered with its own
// code) stay their own enums.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace pushd {

class [[nodiscard]] Status {
public:
    // Success.
    Status() = default;
    // A failure saying `message` (one line, not empty).
    static Status fail(std::string message) {
        Status s;
        s.message_ = std::move(message);
        return s;
    }
    bool ok() const { return !message_; }
    // What went wrong; empty on success.
    const std::string& error() const { return message_ ? *message_ : empty(); }

private:
    static const std::string& empty() {
        static const std::string kEmpty;
        return kEmpty;
    }
    std::optional<std::string> message_;
};

template <class T>
class [[nodiscard]] Result {
public:
    // Success with `value`.
    Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose, as std::expected
    // A failure: `failure` must not be ok.
    Result(Status failure) : status_(std::move(failure)) {}  // NOLINT
    bool ok() const { return status_.ok(); }
    const std::string& error() const { return status_.error(); }
    const Status& status() const { return status_; }
    // The value; only when ok().
    T& value() { return *value_; }
    const T& value() const { return *value_; }
    T* operator->() { return &*value_; }
    const T* operator->() const { return &*value_; }

private:
    Status status_;
    std::optional<T> value_;
};

}  // namespace pushd
