#!/usr/bin/perl
# Batch DKIM verification with Perl Mail::DKIM (one process, many messages).
#
#   mail-dkim-verify-dir.pl DIR PORT [TIMEOUT [SHARD/SHARDS]]
#
# Verifies every regular file in DIR (sorted by name, dot files skipped), key
# records fetched from the DNS server at 127.0.0.1:PORT (our NSD).  Files are LF
# messages as the queue stores them; each LF becomes CRLF before verifying (what
# qmail-remote sends).  With SHARD/SHARDS (e.g. 0/2) only the files whose index
# in the sorted list is SHARD modulo SHARDS are done, so several processes can
# split one directory.
#
# Prints one line per file, tab-separated:
#   name  result  result_detail  signatures
# where signatures is a space-separated list of d=<domain>,s=<selector>,a=<alg>,r=<result>
# ("-" when the message has no signature).  Exit 0 unless DIR cannot be read.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../realparts";
use LocalNsd;
use Mail::DKIM::DNS;
use Mail::DKIM::Verifier;

my ($dir, $port, $timeout, $shard) = @ARGV;
die "usage: $0 DIR PORT [TIMEOUT [SHARD/SHARDS]]\n" unless defined $dir && defined $port;
$timeout ||= 3;
my ($k, $n) = (0, 1);
if (defined $shard) {
    ($k, $n) = $shard =~ m{^(\d+)/(\d+)$} or die "bad shard '$shard' (want K/N)\n";
}

my $res = LocalNsd::resolver($port, $timeout);
$res->udppacketsize(4096);
Mail::DKIM::DNS::resolver($res);

opendir(my $dh, $dir) or die "$dir: $!\n";
my @files = sort grep { !/^\./ && -f "$dir/$_" } readdir $dh;
closedir $dh;

$| = 1;
my $i = -1;
foreach my $name (@files) {
    $i++;
    next unless $i % $n == $k;
    my $data;
    if (open(my $fh, '<:raw', "$dir/$name")) {
        local $/;
        $data = <$fh>;
        close $fh;
    } else {
        print join("\t", $name, "error", "open: $!", "-"), "\n";
        next;
    }
    $data =~ s/\n/\r\n/g;
    my $dkim = Mail::DKIM::Verifier->new();
    $dkim->PRINT($data);
    $dkim->CLOSE;
    my @sigs = map {
        sprintf("d=%s,s=%s,a=%s,r=%s", $_->domain // '', $_->selector // '',
                $_->algorithm // '', $_->result // '')
    } $dkim->signatures;
    my $detail = $dkim->result_detail // '';
    $detail =~ s/[\t\r\n]+/ /g;
    print join("\t", $name, $dkim->result // '', $detail, @sigs ? join(' ', @sigs) : '-'), "\n";
}
