// Pointing an unchanged KVM client at kvmx: QEMU (before 9.2), KVM's
// selftests and kvm-unit-tests open /dev/kvm by its literal name.
#pragma once

#include <string>

namespace kvmx {

// In a private mount namespace of the calling process (and the children it
// starts afterwards), bind @device over /dev/kvm; the rest of the system
// keeps its own /dev/kvm.  Needs CAP_SYS_ADMIN.  /dev/kvm must exist as a
// mount point: with kvm.ko not loaded, load kvmx with kvm_node=1 instead.
void bind_over_dev_kvm(const std::string &device);

} // namespace kvmx
