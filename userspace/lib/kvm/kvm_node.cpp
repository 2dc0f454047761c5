#include "kvm_node.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>

#include "error.hpp"

namespace kvmx {

void bind_over_dev_kvm(const std::string &device)
{
	struct stat st {};
	if (::stat(device.c_str(), &st) || !S_ISCHR(st.st_mode))
		throw Error(device + " is not a character device (is kvmx.ko loaded?)", errno);
	if (::stat("/dev/kvm", &st))
		throw Error("/dev/kvm does not exist to bind over: load kvm.ko, or load kvmx "
			    "with kvm_node=1 so that it answers there itself", errno);
	if (::unshare(CLONE_NEWNS))
		throw Error("cannot make a private mount namespace (run as root)", errno);
	// Keep the bind mount out of the parent namespace.
	if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr))
		throw Error("cannot make / private in the new mount namespace", errno);
	if (::mount(device.c_str(), "/dev/kvm", nullptr, MS_BIND, nullptr))
		throw Error("cannot bind " + device + " over /dev/kvm", errno);
}

} // namespace kvmx
