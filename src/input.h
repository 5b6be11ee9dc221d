/* Private: an input file as a stream of (decompressed) bytes. */
#ifndef RS_INPUT_H
#define RS_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include <rewardstore/error.h>

typedef enum rs_input_kind {
	RS_INPUT_PLAIN,
	RS_INPUT_GZIP,
	RS_INPUT_ZSTD
} rs_input_kind;

typedef struct rs_input rs_input;

/* Open path ("-" is standard input) and find its kind from its first bytes,
 * not its name. */
int rs_input_open(rs_input **out, const char *path, rs_error *err);
/* Read up to cap decompressed bytes; *got is 0 at the end. */
int rs_input_read(rs_input *in, char *buf, size_t cap, size_t *got,
                  rs_error *err);
/* For a plain regular file: read up to cap bytes at offset off, without
 * moving the stream (several threads may each read a part of one input);
 * RS_EUSAGE for other inputs. */
int rs_input_pread(rs_input *in, char *buf, size_t cap, uint64_t off, size_t *got,
                   rs_error *err);
/* Whether rs_input_pread can be used. */
int rs_input_seekable(const rs_input *in);
rs_input_kind rs_input_kind_of(const rs_input *in);
/* Bytes read from the file itself (compressed ones, for progress), and its
 * size when it is a regular file (0 when unknown: a pipe, standard input). */
uint64_t rs_input_raw_bytes(const rs_input *in);
uint64_t rs_input_raw_size(const rs_input *in);
void rs_input_close(rs_input *in);

#endif
