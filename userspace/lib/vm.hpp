// A VM fd (KVM_CREATE_VM).
#pragma once

#include "fd.hpp"

namespace kvmx {

class Vm {
public:
	explicit Vm(Fd fd) : fd_(std::move(fd)) {}
	int fd() const { return fd_.get(); }
	int check_extension(int cap) const;

private:
	Fd fd_;
};

} // namespace kvmx
