#include "guest_memory.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <fmt/format.h>

#include "error.hpp"

namespace kvmx {

GuestMemory::GuestMemory(uint64_t size) : size_(size)
{
	void *p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		throw Error(fmt::format("not enough memory for {} MiB of guest RAM", size >> 20), errno);
	base_ = static_cast<uint8_t *>(p);
	// Large guests get transparent huge pages, and with them 2 MiB EPT pages.
	::madvise(p, size, MADV_HUGEPAGE);
}

GuestMemory::~GuestMemory()
{
	::munmap(base_, size_);
}

uint8_t *GuestMemory::at(uint64_t gpa, uint64_t len) const
{
	if (gpa > size_ || len > size_ - gpa)
		throw Error(fmt::format("guest address {:#x}+{:#x} is outside the {} KiB of RAM",
					gpa, len, size_ >> 10));
	return base_ + gpa;
}

void GuestMemory::write(uint64_t gpa, std::span<const uint8_t> bytes) const
{
	std::memcpy(at(gpa, bytes.size()), bytes.data(), bytes.size());
}

} // namespace kvmx
