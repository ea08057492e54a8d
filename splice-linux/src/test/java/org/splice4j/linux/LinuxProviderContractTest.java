package org.splice4j.linux;

/** The contract for the linux provider at its defaults. */
class LinuxProviderContractTest extends LinuxContractBase {
}
