/* SPDX-License-Identifier: MIT */
/* fuzz_proto_decode.c: libFuzzer target for proto_decode(), the one decoder every datagram the
 * daemon receives goes through. Any input must decode or fail cleanly (ASan and UBSan watch);
 * what decodes and encodes again must decode to the same message and encode to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static struct proto_msg first, second;
static uint8_t out1[PROTO_MAX_MESSAGE], out2[PROTO_MAX_MESSAGE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	int len1, len2;

	if (proto_decode(data, size, &first, &why) < 0) {
		if (!why)
			abort(); /* every refusal says why */
		return 0;
	}
	/* Decoding checks structure only; the encoder is strict (names, flags), so
	 * not everything decoded encodes. What does must round-trip exactly. */
	len1 = proto_encode(&first, out1, sizeof(out1));
	if (len1 <= 0)
		return 0;
	if (proto_decode(out1, (size_t)len1, &second, &why) < 0)
		abort();
	len2 = proto_encode(&second, out2, sizeof(out2));
	if (len2 != len1 || memcmp(out1, out2, (size_t)len1) != 0)
		abort();
	return 0;
}
