/**
 * Building blocks the providers share: the session and splicer skeletons, the relay loop thread and the loop group.
 * Provider-internal: public so that providers in other modules ({@code splice-linux}) can build on them; applications
 * and adapters use {@link org.splice4j.spi} only. May change between releases without notice.
 */
package org.splice4j.spi.support;
