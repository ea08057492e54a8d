package org.splice4j.linux;

import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

import org.splice4j.spi.SpliceEndpoint;

/** Endpoints given as raw descriptors, the way the Netty epoll adapter hands them over. */
class LinuxDescriptorEndpointContractTest extends LinuxContractBase {
    @Override
    protected SpliceEndpoint endpoint(SocketChannel channel, ByteBuffer alreadyRead) {
        return SpliceEndpoint.ofDescriptor(FdAccess.fdOf(channel), alreadyRead);
    }
}
