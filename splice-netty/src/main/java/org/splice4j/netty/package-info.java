/**
 * The Netty adapter: {@code SpliceRelay} hands two connected Netty channels to a {@link org.splice4j.spi.Splicer}.
 * Its classes arrive with the Netty adapter issue; until then this module holds only its coordinates.
 */
package org.splice4j.netty;
