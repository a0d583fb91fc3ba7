/*
 * cmd_report: `kiln report`, the build's results as one offline HTML page.
 */
#ifndef KILN_CMD_REPORT_H
#define KILN_CMD_REPORT_H

int kiln_cmd_report(int argc, char **argv);

#endif
