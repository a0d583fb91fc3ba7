/*
 * The report page's scripts and style, built into kiln: vega, vega-lite
 * and vega-embed as npm ci installed them in report/node_modules (pinned
 * by report/package-lock.json), and the page's own script and style. A
 * report never fetches them: they are written into every page.
 */
#define ASSET(name, file)		\
	.global kiln_asset_##name;	\
	.global kiln_asset_##name##_end; \
kiln_asset_##name:			\
	.incbin file;			\
kiln_asset_##name##_end:

	.section .rodata
ASSET(vega, "report/node_modules/vega/build/vega.min.js")
ASSET(vega_lite, "report/node_modules/vega-lite/build/vega-lite.min.js")
ASSET(vega_embed, "report/node_modules/vega-embed/build/vega-embed.min.js")
ASSET(page_js, "report/page.js")
ASSET(page_css, "report/page.css")
	.section .note.GNU-stack,"",@progbits
