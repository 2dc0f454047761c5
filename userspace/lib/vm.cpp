#include "vm.hpp"

#include <sys/ioctl.h>

extern "C" {
#include <linux/kvmx.h>
}

namespace kvmx {

int Vm::check_extension(int cap) const
{
	int r = ::ioctl(fd_.get(), KVMX_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

} // namespace kvmx
