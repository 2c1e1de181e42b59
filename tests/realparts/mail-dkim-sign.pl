#!/usr/bin/perl
# Sign a message with Perl Mail::DKIM::Signer.
# Usage: mail-dkim-sign.pl JSON-OPTIONS < message(CRLF)  > DKIM-Signature header only
# Options (JSON object): keyfile (PKCS#1 PEM: Mail::DKIM reads only that), domain,
# selector, algorithm (rsa-sha256|rsa-sha1), method (relaxed|simple|relaxed/simple...),
# identity (i=), timestamp (t=, epoch), expiration (x=, epoch), query (q=),
# headers ("from:to:subject": exact h= list; default Mail::DKIM's choice),
# body_length (l=, octets of canonicalized body signed), tags ({tag: value, ...}
# set on the signature before signing, e.g. {"v": "2"} or {"z": "..."}).
# Prints the DKIM-Signature header field (CRLF folded, "DKIM-Signature: ..." CRLF).
use strict;
use warnings;
use JSON::PP;
use Mail::DKIM::Signer;
use Mail::DKIM::Signature;
use Mail::DKIM::PrivateKey;

my $o = decode_json(shift @ARGV // die "usage: $0 JSON < message\n");
my $key = Mail::DKIM::PrivateKey->load(File => $o->{keyfile});

my $policy = sub {
    my $signer = shift;
    my %args = (
        Algorithm => $o->{algorithm} // 'rsa-sha256',
        Method    => $o->{method} // 'relaxed',
        Headers   => $o->{headers} // $signer->headers,
        Domain    => $o->{domain},
        Selector  => $o->{selector},
        Key       => $key,
    );
    $args{Identity}   = $o->{identity}   if defined $o->{identity};
    $args{Timestamp}  = $o->{timestamp}  if defined $o->{timestamp};
    $args{Expiration} = $o->{expiration} if defined $o->{expiration};
    $args{Query}      = $o->{query}      if defined $o->{query};
    my $sig = Mail::DKIM::Signature->new(%args);
    $sig->body_count($o->{body_length}) if defined $o->{body_length};
    if ($o->{tags}) {
        foreach my $t (sort keys %{ $o->{tags} }) {
            $sig->set_tag($t, $o->{tags}{$t});
        }
    }
    $signer->add_signature($sig);
    return;
};

my $dkim = Mail::DKIM::Signer->new(Policy => $policy, Key => $key);
binmode STDIN;
while (read(STDIN, my $buf, 65536)) {
    $dkim->PRINT($buf);
}
$dkim->CLOSE;
my $sig = $dkim->signature or die "no signature produced\n";
my $text = $sig->as_string;
$text =~ s/\015?\012/\015\012/g;
print $text, "\015\012";
