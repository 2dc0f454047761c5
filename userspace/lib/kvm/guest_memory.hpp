// Guest RAM: anonymous host memory, mapped at guest-physical 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace kvmx {

// How the host backs guest RAM.  Huge: 2 MiB-aligned transparent huge pages
// where the kernel gives them (and with them 2 MiB EPT pages); Small: 4 KiB
// pages only.
enum class Backing { Huge, Small };

class GuestMemory {
public:
	explicit GuestMemory(uint64_t size, Backing backing = Backing::Huge);
	GuestMemory(const GuestMemory &) = delete;
	GuestMemory &operator=(const GuestMemory &) = delete;
	~GuestMemory();

	uint64_t size() const { return size_; }
	uint8_t *host() const { return base_; }
	// Host pointer for [gpa, gpa+len); throws Error if it leaves RAM.
	uint8_t *at(uint64_t gpa, uint64_t len = 1) const;
	void write(uint64_t gpa, std::span<const uint8_t> bytes) const;
	template <typename T> void put(uint64_t gpa, T value) const
	{
		std::memcpy(at(gpa, sizeof(T)), &value, sizeof(T));
	}

private:
	uint8_t *map_ = nullptr;	// what mmap gave (base_ is aligned inside it)
	uint64_t map_size_ = 0;
	uint8_t *base_ = nullptr;
	uint64_t size_ = 0;
};

} // namespace kvmx
