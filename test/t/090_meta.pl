# META.json against the PGXN Meta Spec 1.0 (https://pgxn.org/meta/spec.txt,
# the JSON schemas of github.com/pgxn/meta, schema/v1): required keys, no keys
# outside the spec but x_ ones, the types and patterns of every field we use
# (Term, SemVer, License, Maintainer, Tags, prereqs phases and relationships,
# no_index, meta-spec), and that it agrees with the tree: the version is the
# control file's default_version and the library's, and every path exists.
# No PostgreSQL server is needed; the suite runs it with the TAP tests.
use strict;
use warnings;
use FindBin;
use JSON::PP;
use Test::More;

my $root = "$FindBin::RealBin/../..";
sub slurp
{
	my ($path) = @_;
	open(my $fh, '<', "$root/$path") or die "$path: $!";
	local $/;
	return <$fh>;
}

my $meta = eval { JSON::PP->new->relaxed(0)->decode(slurp('META.json')) };
ok(ref $meta eq 'HASH', 'META.json is a JSON object') or BAIL_OUT("META.json: $@");

my $semver = qr/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
my $term = qr/^[^\/\\\s\p{Cntrl}]{2,}$/;
my $tag = qr/^[^\/\\\p{Cntrl}]{2,255}$/;
my $custom = qr/^[xX]_./;
my %licenses = map { $_ => 1 } qw(agpl_3 apache_1_1 apache_2_0 artistic_1 artistic_2 bsd freebsd
  gfdl_1_2 gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1 lgpl_3_0 mit mozilla_1_0 mozilla_1_1 openssl perl_5
  postgresql qpl_1_0 ssleay sun zlib open_source restricted unrestricted unknown);

# Keys allowed in an object: the named ones and custom x_ keys.
sub only_keys
{
	my ($obj, $what, @allowed) = @_;
	my %ok = map { $_ => 1 } @allowed;
	my @bad = grep { !$ok{$_} && $_ !~ $custom } sort keys %$obj;
	is_deeply(\@bad, [], "$what has only spec keys");
}
sub nonempty_string { my ($v) = @_; return defined $v && !ref $v && length $v >= 1; }

only_keys($meta, 'META.json', qw(name version abstract maintainer license provides meta-spec
	  description generated_by tags no_index prereqs release_status resources));
for my $key (qw(name version abstract maintainer license provides meta-spec))
{
	ok(exists $meta->{$key}, "required key $key");
}
like($meta->{name}, $term, 'name is a Term');
like($meta->{version}, $semver, 'version is a SemVer');
ok(nonempty_string($meta->{abstract}), 'abstract is a non-empty string');
ok(nonempty_string($meta->{description}), 'description is a non-empty string')
  if exists $meta->{description};
ok(nonempty_string($meta->{generated_by}), 'generated_by is a non-empty string')
  if exists $meta->{generated_by};

my $m = $meta->{maintainer};
ok(nonempty_string($m) || (ref $m eq 'ARRAY' && @$m && !grep { !nonempty_string($_) } @$m),
	'maintainer is a string or a non-empty list of strings');

my $l = $meta->{license};
ok( (!ref $l && $licenses{$l})
	  || (ref $l eq 'ARRAY' && @$l && !grep { !$licenses{$_} } @$l)
	  || (ref $l eq 'HASH' && %$l && !grep { !nonempty_string($_) || !/^[a-z][a-z0-9+.-]*:/i } values %$l),
	"license is a known license name, a list of them, or names mapped to URIs");

my $spec = $meta->{'meta-spec'};
only_keys($spec, 'meta-spec', qw(version url));
like($spec->{version}, qr/^1\.0\.\d+$/, 'meta-spec version is 1.0.x');
ok(!exists $spec->{url} || $spec->{url} =~ m{^https?://pgxn\.org/meta/spec\.txt$},
	'meta-spec url is the spec\'s');

# provides: extensions, each with an existing file and a SemVer.
my $provides = $meta->{provides};
ok(ref $provides eq 'HASH' && %$provides, 'provides is a non-empty object');
for my $ext (sort keys %$provides)
{
	my $e = $provides->{$ext};
	like($ext, $term, "provides key $ext is a Term");
	only_keys($e, "provides.$ext", qw(file version abstract docfile docpath));
	ok(-f "$root/$e->{file}", "provides.$ext.file $e->{file} exists");
	like($e->{version}, $semver, "provides.$ext.version is a SemVer");
	ok(-f "$root/$e->{docfile}", "provides.$ext.docfile $e->{docfile} exists")
	  if exists $e->{docfile};
	ok(nonempty_string($e->{abstract}), "provides.$ext.abstract is a non-empty string")
	  if exists $e->{abstract};
}

# prereqs: phases -> relationships -> Term => version or 0.
if (my $pre = $meta->{prereqs})
{
	only_keys($pre, 'prereqs', qw(configure build test runtime develop));
	for my $phase (sort keys %$pre)
	{
		next if $phase =~ $custom;
		only_keys($pre->{$phase}, "prereqs.$phase", qw(requires recommends suggests conflicts));
		for my $rel (sort keys %{ $pre->{$phase} })
		{
			next if $rel =~ $custom;
			while (my ($name, $ver) = each %{ $pre->{$phase}{$rel} })
			{
				like($name, $term, "prereqs.$phase.$rel: $name is a Term");
				ok("$ver" eq '0' || $ver =~ $semver
					  || $ver =~ /^\s*(?:[<>]=?|[!=]=)\s*\S+(?:\s*,\s*(?:[<>]=?|[!=]=)\s*\S+)*$/,
					"prereqs.$phase.$rel.$name is 0, a SemVer or a version range");
			}
		}
	}
}

if (my $tags = $meta->{tags})
{
	ok(ref $tags eq 'ARRAY' && @$tags, 'tags is a non-empty list');
	like($_, $tag, "tag '$_' is a Tag") for @$tags;
}
if (my $ni = $meta->{no_index})
{
	only_keys($ni, 'no_index', qw(file directory));
	ok(exists $ni->{file} || exists $ni->{directory}, 'no_index has file or directory');
	for my $kind (qw(file directory))
	{
		next unless exists $ni->{$kind};
		my @paths = ref $ni->{$kind} ? @{ $ni->{$kind} } : ($ni->{$kind});
		ok($kind eq 'file' ? -f "$root/$_" : -d "$root/$_", "no_index $kind $_ exists") for @paths;
	}
}
like($meta->{release_status}, qr/^(stable|testing|unstable)$/, 'release_status is a spec value')
  if exists $meta->{release_status};

# Agreement with the tree.
my ($default) = slurp('recgan.control') =~ /^default_version\s*=\s*'([^']+)'/m;
is($meta->{version}, $default, "the distribution version is the control file's default_version");
is($provides->{recgan}{version}, $default, 'so is the extension\'s');
my ($lib) = slurp('src/util.h') =~ /#define RECGAN_VERSION_STR "([^"]+)"/;
is($lib, $default, 'and the library\'s (recgan_version())');
my ($data) = slurp('Makefile') =~ /^DATA\s*=\s*(.+)$/m;
my @scripts = split ' ', $data;
ok(-f "$root/$_", "Makefile DATA $_ exists") for @scripts;
ok((grep { $_ eq "sql/recgan--$default.sql" || /--\Q$default\E\.sql$/ } @scripts),
	"an installation or update script reaches $default");

done_testing();
