// Errors for people: what failed, why, and the errno behind it.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace kvmx {

class Error : public std::runtime_error {
public:
	explicit Error(const std::string &what, int err = 0)
		: std::runtime_error(err ? what + ": " + std::strerror(err) : what), errno_(err)
	{
	}
	int err() const { return errno_; }

private:
	int errno_;
};

} // namespace kvmx
