/* S3: the s3:// URL and credentials, and reading S3's XML answers (errors, ListObjectsV2 pages, upload ids). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "s3.h"
#include "util.h"

static void
clear_env(void)
{
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_S3");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/kiln-test-credentials", 1);
}

static void
url_and_environment(void **state)
{
	struct kiln_s3 s;

	(void)state;
	clear_env();
	setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
	setenv("AWS_SESSION_TOKEN", "TOK", 1);
	assert_int_equal(kiln_s3_open(&s, "s3://my-bucket/teams/ml/"), 0);
	assert_string_equal(s.bucket, "my-bucket");
	assert_string_equal(s.prefix, "teams/ml");
	assert_string_equal(s.region, "us-east-1");
	assert_string_equal(s.base, "https://my-bucket.s3.us-east-1.amazonaws.com/teams/ml");
	assert_string_equal(s.userpwd, "AKID:SECRET");
	assert_string_equal(s.token, "x-amz-security-token: TOK");
	assert_string_equal(s.sigv4, "aws:amz:us-east-1:s3");
	kiln_s3_release(&s);

	/* An endpoint: path-style. A bucket without a prefix. */
	unsetenv("AWS_SESSION_TOKEN");
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/", 1);
	setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
	assert_int_equal(kiln_s3_open(&s, "s3://b.with.dots"), 0);
	assert_string_equal(s.prefix, "");
	assert_string_equal(s.base, "http://127.0.0.1:9000/b.with.dots");
	assert_string_equal(s.sigv4, "aws:amz:eu-west-1:s3");
	assert_null(s.token);
	kiln_s3_release(&s);

	/* Bad names are refused. */
	assert_int_equal(kiln_s3_open(&s, "s3://Upper/x"), -1);
	assert_int_equal(kiln_s3_open(&s, "s3://bucket/a//b"), -1);
	assert_int_equal(kiln_s3_open(&s, "s3://bucket/a/../b"), -1);
	assert_int_equal(kiln_s3_open(&s, "s3://bucket/a b"), -1);
}

static void
credentials_file_profiles(void **state)
{
	char path[] = "/tmp/kiln-s3-cred-XXXXXX";
	int fd = mkstemp(path);
	const char *text = "# comment\n[default]\naws_access_key_id = D1\naws_secret_access_key = D2\n\n"
	    "; other\n[ ci ]\r\n  aws_access_key_id=C1  \r\naws_secret_access_key = C2=with=equals\r\n"
	    "aws_session_token = CT\n[half]\naws_access_key_id = H1\n";
	struct kiln_s3 s;

	(void)state;
	clear_env();
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
	close(fd);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	assert_int_equal(kiln_s3_open(&s, "s3://bucket/p"), 0);
	assert_string_equal(s.userpwd, "D1:D2");
	assert_null(s.token);
	kiln_s3_release(&s);
	setenv("AWS_PROFILE", "ci", 1);
	assert_int_equal(kiln_s3_open(&s, "s3://bucket/p"), 0);
	assert_string_equal(s.userpwd, "C1:C2=with=equals");
	assert_string_equal(s.token, "x-amz-security-token: CT");
	kiln_s3_release(&s);
	/* A profile with only one of the two keys is not credentials. */
	setenv("AWS_PROFILE", "half", 1);
	assert_int_equal(kiln_s3_open(&s, "s3://bucket/p"), -1);
	unlink(path);
}

static void
error_documents(void **state)
{
	const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
	    "<Message>The request signature &amp; more</Message><AWSAccessKeyId>X</AWSAccessKeyId></Error>";
	char code[64], msg[128];

	(void)state;
	assert_int_equal(kiln_s3_error(doc, strlen(doc), code, sizeof(code), msg, sizeof(msg)), 1);
	assert_string_equal(code, "SignatureDoesNotMatch");
	assert_string_equal(msg, "The request signature & more");
	assert_true(kiln_s3_error_is_fatal(code));
	assert_false(kiln_s3_error_is_fatal("NoSuchKey"));
	assert_false(kiln_s3_error_is_fatal("AccessDenied"));
	/* Not an error document: nothing, and no crash on garbage or nothing. */
	assert_int_equal(kiln_s3_error("<html>no</html>", 15, code, sizeof(code), msg, sizeof(msg)), 0);
	assert_string_equal(code, "");
	assert_int_equal(kiln_s3_error("<Error><Code>", 13, code, sizeof(code), msg, sizeof(msg)), 0);
	assert_int_equal(kiln_s3_error(NULL, 0, code, sizeof(code), msg, sizeof(msg)), 0);
}

struct seen {
	int n;
	char keys[4][64];
	uint64_t sizes[4];
	double mtimes[4];
};

static void
object(void *arg, const char *key, double mtime, uint64_t size)
{
	struct seen *s = arg;

	if (s->n < 4) {
		snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
		s->sizes[s->n] = size;
		s->mtimes[s->n] = mtime;
	}
	s->n++;
}

static void
list_pages(void **state)
{
	const char *page1 = "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
	    "<IsTruncated>true</IsTruncated><Contents><Key>p/ac/aa</Key><LastModified>2026-12-01T10:22:03.000Z"
	    "</LastModified><Size>6</Size></Contents><Contents><Key>p/ac/bb</Key><Size>7</Size></Contents>"
	    "<NextContinuationToken>1/abc=+</NextContinuationToken></ListBucketResult>";
	const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>p/ac/cc</Key>"
	    "<Size>1</Size></Contents></ListBucketResult>";
	const char *loop = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
	struct seen s = {0};
	char *next = NULL, *url;
	struct kiln_s3 b = {0};

	(void)state;
	assert_int_equal(kiln_s3_list_page(page1, strlen(page1), object, &s, &next), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.keys[0], "p/ac/aa");
	assert_int_equal(s.sizes[0], 6);
	assert_true(s.mtimes[0] == 1796120523.0);
	assert_string_equal(s.keys[1], "p/ac/bb");
	assert_string_equal(next, "1/abc=+");
	b.bucket_url = "http://127.0.0.1:9000/b";
	url = kiln_s3_list_url(&b, "p/ac/", next);
	assert_string_equal(url, "http://127.0.0.1:9000/b?continuation-token=1%2Fabc%3D%2B&list-type=2&prefix=p%2Fac%2F");
	free(url);
	b.bucket_url = "https://b.s3.us-east-1.amazonaws.com";
	url = kiln_s3_list_url(&b, "ac/", NULL);
	assert_string_equal(url, "https://b.s3.us-east-1.amazonaws.com/?list-type=2&prefix=ac%2F");
	free(url);
	free(next);
	assert_int_equal(kiln_s3_list_page(last, strlen(last), object, &s, &next), 0);
	assert_int_equal(s.n, 3);
	assert_null(next);
	/* Truncated without a token would ask for the same page forever: refused. */
	assert_int_equal(kiln_s3_list_page(loop, strlen(loop), object, &s, &next), -1);
	assert_null(next);
	assert_int_equal(kiln_s3_list_page("<Error/>", 8, object, &s, &next), -1);
}

static void
upload_ids(void **state)
{
	const char *doc = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2Fk.ID</UploadId>"
	    "</InitiateMultipartUploadResult>";
	char *id;

	(void)state;
	id = kiln_s3_upload_id(doc, strlen(doc));
	assert_string_equal(id, "VXBsb2Fk.ID");
	free(id);
	assert_null(kiln_s3_upload_id("<Error><UploadId>x</UploadId></Error>", 37));
	id = kiln_s3_query_escape("a/b c~");
	assert_string_equal(id, "a%2Fb%20c~");
	free(id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(url_and_environment),
		cmocka_unit_test(credentials_file_profiles),
		cmocka_unit_test(error_documents),
		cmocka_unit_test(list_pages),
		cmocka_unit_test(upload_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
