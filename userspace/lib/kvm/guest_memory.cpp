#include "guest_memory.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <fmt/format.h>

#include "error.hpp"

namespace kvmx {

GuestMemory::GuestMemory(uint64_t size, Backing backing) : size_(size)
{
	constexpr uint64_t huge = 2 << 20;
	// A THP needs a 2 MiB-aligned range: map a little more and align inside.
	map_size_ = backing == Backing::Huge ? size + huge : size;
	void *p = ::mmap(nullptr, map_size_, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		throw Error(fmt::format("not enough memory for {} MiB of guest RAM", size >> 20), errno);
	map_ = static_cast<uint8_t *>(p);
	base_ = map_;
	if (backing == Backing::Huge) {
		base_ = reinterpret_cast<uint8_t *>((reinterpret_cast<uintptr_t>(map_) + huge - 1) &
						    ~(huge - 1));
		::madvise(base_, size, MADV_HUGEPAGE);
	} else {
		::madvise(base_, size, MADV_NOHUGEPAGE);
	}
}

GuestMemory::~GuestMemory()
{
	::munmap(map_, map_size_);
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
