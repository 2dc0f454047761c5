#include "pci_conf1_none.hpp"

#include <cstring>

namespace kvmx {

bool PciConf1None::io(uint16_t port, bool in, uint8_t *data, unsigned size)
{
	if (port >= 0xcf8 && port + size <= 0xcfc) {
		// Any-width access into the 32-bit address latch.
		unsigned off = port - 0xcf8;
		uint8_t bytes[4];
		std::memcpy(bytes, &address_, 4);
		if (in)
			std::memcpy(data, bytes + off, size);
		else
			std::memcpy(bytes + off, data, size);
		std::memcpy(&address_, bytes, 4);
		return true;
	}
	if (port >= 0xcfc && port + size <= 0xd00) {
		if (in)
			std::memset(data, 0xff, size);
		return true;
	}
	return false;
}

} // namespace kvmx
