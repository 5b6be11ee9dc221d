/* The reader of an input's records: a line of a reward log (event.c) or a
 * row of a dump (dump.c) turned into observations, the same way for every
 * caller of the import pipeline. */
#include <rewardstore/dump.h>
#include <rewardstore/event.h>

#include "import-private.h"

int rs_parser_new(rs_parser *ps, const rs_import_opts *opts)
{
	ps->format = opts->format;
	if (opts->format == RS_IN_LOG)
		return rs_event_reader_new(&ps->events, opts->default_offset_min);
	ps->header_pending = opts->format == RS_IN_DUMP_CSV || opts->text_header;
	return rs_dump_reader_new(&ps->dump, opts->format == RS_IN_DUMP_CSV ? RS_DUMP_CSV
	                                                                       : RS_DUMP_TEXT,
	                          opts->text_header);
}

void rs_parser_free(rs_parser *ps)
{
	rs_event_reader_free(ps->events);
	rs_dump_reader_free(ps->dump);
}

int rs_parser_parse(rs_parser *ps, const char *p, size_t n, const rs_obs **ev,
                        size_t *nev, rs_error *err)
{
	if (ps->events)
		return rs_event_parse(ps->events, p, n, ev, nev, err);
	int rc = rs_dump_parse(ps->dump, p, n, ev, nev, err);
	if (rc == 0 && ps->header_pending)
		ps->header_pending = 0;
	return rc;
}
